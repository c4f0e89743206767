// Range requests on blobs (OCI distribution spec v1.1, "Pulling blobs": registries SHOULD
// support Range per RFC 9110): 206 with Content-Range, 416 with "bytes */<size>".
import { beforeAll, describe, expect, it } from "vitest";
import { bodyBytes, errorCode, pushBlob, randomBytes, request, uniqueRepo } from "../helpers/registry";

const bytes = randomBytes(100, 21);
let url = "";

beforeAll(async () => {
  const repository = uniqueRepo("ranges/blob");
  const { digest } = await pushBlob(repository, bytes);
  url = `/v2/${repository}/blobs/${digest}`;
});

function get(range: string): Promise<Response> {
  return request(url, { headers: { Range: range } });
}

async function expectPartial(response: Response, start: number, end: number): Promise<void> {
  expect(response.status).toBe(206);
  expect(response.headers.get("Content-Range")).toBe(`bytes ${start}-${end}/${bytes.byteLength}`);
  expect(response.headers.get("Content-Length")).toBe(String(end - start + 1));
  expect(await bodyBytes(response)).toEqual(bytes.slice(start, end + 1));
}

describe("satisfiable ranges", () => {
  it("answers bytes=0-9 with 206 and the first ten bytes", async () => {
    await expectPartial(await get("bytes=0-9"), 0, 9);
  });

  it("answers bytes=10- with 206 and everything from byte 10", async () => {
    await expectPartial(await get("bytes=10-"), 10, 99);
  });

  it("answers bytes=-5 with 206 and the last five bytes", async () => {
    await expectPartial(await get("bytes=-5"), 95, 99);
  });

  it("answers a range ending past the end with 206 and the bytes up to the end", async () => {
    await expectPartial(await get("bytes=90-500"), 90, 99);
  });

  it("answers a one-byte range with 206 and that byte", async () => {
    await expectPartial(await get("bytes=42-42"), 42, 42);
  });

  it("keeps Docker-Content-Digest of the whole blob on a 206", async () => {
    const response = await get("bytes=0-9");
    expect(response.headers.get("Docker-Content-Digest")).toMatch(/^sha256:/);
    expect(url.endsWith(response.headers.get("Docker-Content-Digest")!)).toBe(true);
  });

  it("advertises Accept-Ranges: bytes", async () => {
    expect((await request(url)).headers.get("Accept-Ranges")).toBe("bytes");
  });
});

describe("unsatisfiable ranges", () => {
  it('answers a range starting past the end with 416 and Content-Range "bytes */<size>"', async () => {
    const response = await get("bytes=200-300");
    expect(response.status).toBe(416);
    expect(response.headers.get("Content-Range")).toBe(`bytes */${bytes.byteLength}`);
    expect(typeof (await errorCode(response))).toBe("string");
  });

  it("answers a range starting exactly at the end with 416", async () => {
    const response = await get(`bytes=${bytes.byteLength}-`);
    expect(response.status).toBe(416);
    expect(response.headers.get("Content-Range")).toBe(`bytes */${bytes.byteLength}`);
  });
});

describe("ranges Pier does not serve", () => {
  it("answers a multi-range request with 200 and the whole blob", async () => {
    const response = await get("bytes=0-1,5-6");
    expect(response.status).toBe(200);
    expect(await bodyBytes(response)).toEqual(bytes);
  });

  it("answers a malformed Range with 200 and the whole blob", async () => {
    const response = await get("bytes=abc");
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Length")).toBe(String(bytes.byteLength));
    expect(response.headers.has("Content-Range")).toBe(false);
  });
});

describe("ranges on an empty blob", () => {
  async function emptyBlobUrl(): Promise<string> {
    const repository = uniqueRepo("ranges/empty");
    const { digest } = await pushBlob(repository, new Uint8Array(0));
    return `/v2/${repository}/blobs/${digest}`;
  }

  it('answers bytes=0- with 416 and Content-Range "bytes */0"', async () => {
    const response = await request(await emptyBlobUrl(), { headers: { Range: "bytes=0-" } });
    expect(response.status).toBe(416);
    expect(response.headers.get("Content-Range")).toBe("bytes */0");
    expect(typeof (await errorCode(response))).toBe("string");
  });

  it("answers a suffix range with the empty blob or 416, never a 5xx", async () => {
    // RFC 9110 §14.1.1: on a zero-length representation nothing can be sent as a part; the
    // server either ignores the Range (200, empty) or answers 416 with "bytes */0".
    const response = await request(await emptyBlobUrl(), { headers: { Range: "bytes=-5" } });
    expect(response.status, await response.clone().text()).toBeLessThan(500);
    expect([200, 416]).toContain(response.status);
    if (response.status === 416) expect(response.headers.get("Content-Range")).toBe("bytes */0");
    else expect((await bodyBytes(response)).byteLength).toBe(0);
  });
});

describe("suffix ranges longer than the blob", () => {
  it("answers bytes=-500 on a 100-byte blob with 206 and the whole blob", async () => {
    await expectPartial(await get("bytes=-500"), 0, 99);
  });
});
