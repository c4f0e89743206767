#!/usr/bin/env node
// `npx pier push|pull`: moves images to and from any OCI registry in chunks no larger than
// the registry asks for (OCI-Chunk-Max-Length), because docker and podman send each layer in
// one request, which Cloudflare refuses over the plan's body limit (100 MB on Free/Pro).
// Node built-ins only, so `npx pier` needs nothing but the package.
import { fileURLToPath } from "node:url";
import { resolveCredentials } from "./credentials.mjs";
import { pullImage } from "./pull.mjs";
import { pushTree } from "./push.mjs";
import { createRegistry } from "./registry.mjs";
import { dockerArchive, ociLayout } from "./sources.mjs";
import { DEFAULT_CHUNK_SIZE } from "./upload.mjs";

const USAGE = `usage:
  pier push [--creds user:password] [--plain-http] [--chunk-size BYTES] oci:<dir>[:<tag>]|docker-archive:<file> <host>/<repo>:<tag>
  pier pull [--creds user:password] [--plain-http] <host>/<repo>:<tag>|<host>/<repo>@<digest> oci:<dir>[:<tag>]
credentials: --creds, else PIER_USERNAME/PIER_PASSWORD, else the docker/podman/skopeo login files`;

/** "<host>/<repo>:<tag>" or "<host>/<repo>@<digest>" → { host, repository, reference }. */
export function parseImageRef(value) {
  const slash = value.indexOf("/");
  if (slash <= 0) throw new Error(`"${value}" must start with the registry's host: <host>/<repo>:<tag>`);
  const host = value.slice(0, slash);
  let rest = value.slice(slash + 1);
  let reference = "latest";
  const at = rest.indexOf("@");
  if (at !== -1) [rest, reference] = [rest.slice(0, at), rest.slice(at + 1)];
  else if (rest.lastIndexOf(":") > rest.lastIndexOf("/")) [rest, reference] = [rest.slice(0, rest.lastIndexOf(":")), rest.slice(rest.lastIndexOf(":") + 1)];
  if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(rest)) throw new Error(`"${rest}" is not a valid repository name`);
  return { host, repository: rest, reference };
}

/** "oci:<dir>[:<tag>]" → { dir, tag }; a colon after the last slash starts the tag. */
export function parseLayoutRef(value) {
  if (!value?.startsWith("oci:")) throw new Error(`"${value}" must be oci:<dir>[:<tag>]`);
  const body = value.slice("oci:".length);
  const colon = body.lastIndexOf(":");
  return colon > body.lastIndexOf("/") ? { dir: body.slice(0, colon), tag: body.slice(colon + 1) } : { dir: body, tag: null };
}

function parseArgs(argv) {
  const options = { creds: null, plainHttp: false, chunkSize: DEFAULT_CHUNK_SIZE };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === "--creds") options.creds = value();
    else if (arg.startsWith("--creds=")) options.creds = arg.slice("--creds=".length);
    else if (arg === "--plain-http") options.plainHttp = true;
    else if (arg === "--chunk-size") options.chunkSize = Number(value());
    else if (arg === "-h" || arg === "--help") options.help = true;
    else if (arg.startsWith("--")) throw new Error(`unknown option ${arg}`);
    else positional.push(arg);
  }
  if (!Number.isSafeInteger(options.chunkSize) || options.chunkSize < 1) throw new Error("--chunk-size takes a positive number of bytes");
  return { options, positional };
}

async function push(options, [source, target]) {
  if (!source || !target) throw new Error(USAGE);
  const ref = parseImageRef(target);
  if (ref.reference.includes(":")) throw new Error("push needs a tag to push to, not a digest");
  let tree;
  if (source.startsWith("docker-archive:")) tree = await dockerArchive(source.slice("docker-archive:".length));
  else {
    const { dir, tag } = parseLayoutRef(source);
    tree = await ociLayout(dir)(tag);
  }
  const credentials = resolveCredentials(ref.host, { creds: options.creds });
  const registry = createRegistry(ref.host, { credentials, plainHttp: options.plainHttp, repository: ref.repository, actions: "pull,push" });
  await registry.connect();
  const digest = await pushTree(registry, tree, ref.reference, { chunkSize: options.chunkSize });
  process.stdout.write(`${ref.host}/${ref.repository}:${ref.reference}@${digest}\n`);
}

async function pull(options, [source, target]) {
  if (!source || !target) throw new Error(USAGE);
  const ref = parseImageRef(source);
  const { dir, tag } = parseLayoutRef(target);
  const credentials = resolveCredentials(ref.host, { creds: options.creds });
  const registry = createRegistry(ref.host, { credentials, plainHttp: options.plainHttp, repository: ref.repository, actions: "pull" });
  await registry.connect();
  const top = await pullImage(registry, ref.reference, dir, tag ?? (ref.reference.includes(":") ? null : ref.reference));
  process.stdout.write(`${dir}${tag ? `:${tag}` : ""}@${top.digest}\n`);
}

export async function main(argv) {
  const [command, ...rest] = argv;
  const { options, positional } = parseArgs(rest);
  if (options.help || !command || ["help", "-h", "--help"].includes(command)) return void process.stdout.write(`${USAGE}\n`);
  if (command === "push") return push(options, positional);
  if (command === "pull") return pull(options, positional);
  throw new Error(`unknown command "${command}"\n${USAGE}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === (await import("node:fs")).realpathSync(process.argv[1])) {
  main(process.argv.slice(2)).catch((error) => {
    process.stderr.write(`pier: ${error.message}\n`);
    process.exitCode = 1;
  });
}
