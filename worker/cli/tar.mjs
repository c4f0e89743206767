// A tiny ustar reader for `docker save` archives: it walks the 512-byte headers with positioned
// reads and records where each member's bytes start, so a layer is later streamed straight
// from the archive (createReadStream with start/end) and never held in memory.
import { closeSync, openSync, readSync } from "node:fs";
import { posix } from "node:path";

const BLOCK = 512;

function field(header, offset, length) {
  const raw = header.subarray(offset, offset + length);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul === -1 ? length : nul).toString("utf8");
}

function octal(header, offset, length) {
  // GNU tar writes sizes over 8 GiB in base-256 (high bit set); ustar proper is octal text.
  if (header[offset] & 0x80) return Number(header.subarray(offset + 1, offset + length).readBigUInt64BE(length - 9));
  const text = field(header, offset, length).trim();
  return text === "" ? 0 : parseInt(text, 8);
}

/** Parses a pax extended header's records ("<len> key=value\n") into an object. */
function paxRecords(bytes) {
  const records = {};
  let at = 0;
  while (at < bytes.length) {
    const space = bytes.indexOf(0x20, at);
    const length = parseInt(bytes.subarray(at, space).toString("utf8"), 10);
    if (!(length > 0)) break;
    const record = bytes.subarray(space + 1, at + length - 1).toString("utf8");
    const eq = record.indexOf("=");
    records[record.slice(0, eq)] = record.slice(eq + 1);
    at += length;
  }
  return records;
}

/** Map of member name (without a leading "./") → { offset, size } of its regular-file data. */
export function indexTar(file) {
  const fd = openSync(file, "r");
  const members = new Map();
  try {
    const header = Buffer.alloc(BLOCK);
    let position = 0;
    let pending = {}; // a pax or GNU long-name header applies to the next member
    for (;;) {
      if (readSync(fd, header, 0, BLOCK, position) < BLOCK) break;
      if (header.every((byte) => byte === 0)) break; // end of archive
      const size = octal(header, 124, 12);
      const type = String.fromCharCode(header[156] || 0x30);
      const dataAt = position + BLOCK;
      const read = () => {
        const bytes = Buffer.alloc(size);
        readSync(fd, bytes, 0, size, dataAt);
        return bytes;
      };
      if (type === "x") pending = { ...pending, ...paxRecords(read()) };
      else if (type === "L") pending = { ...pending, path: field(read(), 0, size) };
      else {
        const prefix = field(header, 345, 155);
        const name = pending.path ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
        const realSize = pending.size ? Number(pending.size) : size;
        const key = name.replace(/^\.\//, "");
        if (type === "0" || type === "\0") members.set(key, { offset: dataAt, size: realSize });
        // Older `docker save` links a layer that several images share instead of storing it twice.
        else if (type === "1" || type === "2") members.set(key, { link: pending.linkpath ?? field(header, 157, 100), symbolic: type === "2" });
        pending = {};
        position = dataAt + Math.ceil(realSize / BLOCK) * BLOCK;
        continue;
      }
      position = dataAt + Math.ceil(size / BLOCK) * BLOCK;
    }
  } finally {
    closeSync(fd);
  }
  return members;
}

/** The { offset, size } of `name` in `members` (indexTar()), following hard and symbolic links. */
export function member(members, name) {
  let key = name.replace(/^\.\//, "");
  for (let hops = 0; hops < 8; hops++) {
    const entry = members.get(key);
    if (!entry) return null;
    if (!entry.link) return entry;
    key = entry.symbolic ? posix.normalize(posix.join(posix.dirname(key), entry.link)) : entry.link.replace(/^\.\//, "");
  }
  return null;
}
