// The control API of the fake remote registries (fake-remote-server.mjs): tests in workerd speak
// only HTTP, so they create registries, seed and read content, script faults and read the
// request log through it. Typed wrappers: fake-remote.ts. The repository is everything after
// the resource segment, so `a/b/c` needs no escaping:
//   POST   /registries                              body: options JSON → { id, url, realm, cdn, options }
//   GET    /registries/<id>                         → { id, url, realm, cdn, options }
//   DELETE /registries/<id>                         stops its servers
//   GET    /registries/<id>/log      DELETE …/log   the request log / clear it
//   POST   /registries/<id>/faults   DELETE …/faults  body: { method?, path, status?, headers?, count?, delayMs?, drop? }
//   PUT    /registries/<id>/blobs/<repo>?algorithm=       body: bytes → { digest }
//   GET    /registries/<id>/blobs/<repo>                  → { digests }
//   GET    /registries/<id>/blob/<repo>?digest=           → the bytes, 404 when absent
//   PUT    /registries/<id>/manifests/<repo>?reference=&mediaType=   body: bytes → { digest }
//   GET    /registries/<id>/manifests/<repo>?reference=   → the bytes (Content-Type, Docker-Content-Digest), 404 when absent
//   GET    /registries/<id>/tags/<repo>                   → { tags: { <tag>: <digest> } }
//   GET    /registries/<id>/repositories                  → { repositories }
//   GET    /registries/<id>/uploads                       → { open } (upload sessions not finished)
import { mediaTypeInside, readBody } from "./fake-upstream-control.mjs";
import { sendJson } from "./fake-upstream-registry.mjs";

/** @typedef {import("./fake-remote-server.mjs").Remote} Remote */
/** @typedef {{ remotes: Map<string, Remote>, create: (options: import("./fake-remote-server.mjs").RemoteOptions) => Promise<Remote> }} Remotes */

/** Each option's default; the control API refuses fields not named here and values of another type. */
export const DEFAULT_OPTIONS = Object.freeze({
  auth: "token",
  referrersApi: true,
  catalog: true,
  monolithic: true,
  mount: true,
  deletes: true,
  chunkMinLength: null,
  chunkMaxLength: null,
  relativeLocations: false,
  separateRealm: false,
  redirectBlobs: false,
});

/** A control call the fake cannot honour: the test is wrong, so say exactly why. */
class ControlError extends Error {
  constructor(message, status = 400) {
    super(message);
    this.status = status;
  }
}

async function readJson(req) {
  const text = (await readBody(req)).toString("utf8");
  try {
    return text === "" ? {} : JSON.parse(text);
  } catch {
    throw new ControlError(`not JSON: ${text.slice(0, 100)}`);
  }
}

/**
 * @param {Remotes} remotes
 * @param {import("node:http").IncomingMessage} req
 * @param {import("node:http").ServerResponse} res
 * @param {URL} url
 */
export async function serveRemoteControl(remotes, req, res, url) {
  try {
    if (url.pathname === "/registries" && req.method === "POST") {
      const remote = await remotes.create(checkOptions(await readJson(req)));
      return sendJson(res, 200, describe(remote));
    }
    const match = /^\/registries\/([^/]+)(?:\/([a-z]+)(?:\/(.+))?)?$/.exec(url.pathname);
    const remote = match ? remotes.remotes.get(match[1]) : undefined;
    if (!match || !remote) throw new ControlError(`no control route or registry for ${req.method} ${url.pathname}`, 404);
    const [, , resource = "", repo = ""] = match;
    const action = ROUTES[`${req.method} ${resource}`];
    if (!action) throw new ControlError(`no control route for ${req.method} /registries/<id>/${resource}`, 404);
    if (resource !== "" && ["blobs", "blob", "manifests", "tags"].includes(resource) !== (repo !== "")) {
      throw new ControlError(`/${resource} ${repo === "" ? "needs" : "takes no"} a repository`);
    }
    const answer = await action(remote, repo, url.searchParams, req, remotes);
    if (answer instanceof RawAnswer) {
      res.writeHead(answer.status, answer.headers);
      return res.end(answer.bytes);
    }
    sendJson(res, 200, answer);
  } catch (error) {
    const status = error instanceof ControlError ? error.status : 500;
    sendJson(res, status, { error: String(error instanceof Error ? error.message : error) });
  }
}

class RawAnswer {
  constructor(status, bytes, headers = {}) {
    this.status = status;
    this.bytes = bytes;
    this.headers = { "Content-Length": bytes.length, ...headers };
  }
}

function describe(remote) {
  return { id: remote.id, url: remote.url, realm: remote.realm, cdn: remote.cdn, options: remote.options };
}

/**
 * The options with defaults filled in; refuses unknown fields and values of the wrong type, so
 * a typo in a test fails loudly.
 */
function checkOptions(given) {
  if (typeof given !== "object" || given === null || Array.isArray(given)) throw new ControlError("options must be a JSON object");
  const options = { ...DEFAULT_OPTIONS };
  for (const [field, value] of Object.entries(given)) {
    if (!(field in DEFAULT_OPTIONS)) throw new ControlError(`unknown option "${field}"`);
    const ok =
      field === "auth" ? ["token", "basic", "none"].includes(value)
      : field === "chunkMinLength" || field === "chunkMaxLength" ? value === null || (Number.isSafeInteger(value) && value > 0)
      : typeof value === "boolean";
    if (!ok) throw new ControlError(`option "${field}" has a wrong value: ${JSON.stringify(value)}`);
    options[field] = value;
  }
  return options;
}

function algorithmOf(query) {
  const algorithm = query.get("algorithm") ?? "sha256";
  if (algorithm !== "sha256" && algorithm !== "sha512") throw new ControlError(`unsupported algorithm "${algorithm}"`);
  return algorithm;
}

function required(query, name) {
  const value = query.get(name);
  if (!value) throw new ControlError(`the ${name} parameter is required`);
  return value;
}

/** @type {Record<string, (remote: Remote, repo: string, query: URLSearchParams, req: import("node:http").IncomingMessage, remotes: Remotes) => Promise<unknown>>} */
const ROUTES = {
  async "GET "(remote) {
    return describe(remote);
  },
  async "DELETE "(remote, _repo, _query, _req, remotes) {
    remote.close();
    remotes.remotes.delete(remote.id);
    return { closed: remote.id };
  },
  async "GET log"(remote) {
    return remote.store.log();
  },
  async "DELETE log"(remote) {
    remote.store.clearLog();
    return { cleared: true };
  },
  async "POST faults"(remote, _repo, _query, req) {
    const fault = await readJson(req);
    const known = ["method", "path", "status", "headers", "count", "delayMs", "drop"];
    for (const field of Object.keys(fault)) if (!known.includes(field)) throw new ControlError(`unknown fault field "${field}"`);
    if (typeof fault.path !== "string") throw new ControlError("path (a regular expression over the path with its query) is required");
    let path;
    try {
      path = new RegExp(fault.path);
    } catch (error) {
      throw new ControlError(`path is not a regular expression: ${error instanceof Error ? error.message : error}`);
    }
    const status = fault.status ?? null;
    if (status !== null && !(Number.isInteger(status) && status >= 100 && status <= 599)) throw new ControlError("status must be an HTTP status");
    const count = fault.count ?? 1;
    if (!(Number.isSafeInteger(count) && count > 0)) throw new ControlError("count must be a positive integer");
    const delayMs = fault.delayMs ?? 0;
    if (!(Number.isSafeInteger(delayMs) && delayMs >= 0)) throw new ControlError("delayMs must be a non-negative integer");
    if (status === null && delayMs === 0 && fault.drop !== true) throw new ControlError("a fault needs a status, a delayMs or drop");
    const headers = fault.headers ?? {};
    if (typeof headers !== "object" || headers === null || Object.values(headers).some((value) => typeof value !== "string")) throw new ControlError("headers must map names to strings");
    if (fault.method !== undefined && typeof fault.method !== "string") throw new ControlError("method must be a string");
    remote.store.addFault({ method: fault.method?.toUpperCase() ?? null, path, status, headers, count, delayMs, drop: fault.drop === true });
    return { added: true };
  },
  async "DELETE faults"(remote) {
    remote.store.clearFaults();
    return { cleared: true };
  },
  async "PUT blobs"(remote, repo, query, req) {
    return { digest: remote.store.putBlob(repo, await readBody(req), algorithmOf(query)) };
  },
  async "GET blobs"(remote, repo) {
    return { digests: [...(remote.store.repo(repo)?.blobs.keys() ?? [])].sort() };
  },
  async "GET blob"(remote, repo, query) {
    const bytes = remote.store.blob(repo, required(query, "digest"));
    return bytes === null ? new RawAnswer(404, Buffer.alloc(0)) : new RawAnswer(200, bytes, { "Content-Type": "application/octet-stream" });
  },
  async "PUT manifests"(remote, repo, query, req) {
    const bytes = await readBody(req);
    const mediaType = query.get("mediaType") ?? mediaTypeInside(bytes);
    if (!mediaType) throw new ControlError("mediaType is required when the manifest has no mediaType field");
    return { digest: remote.store.putManifest(repo, query.get("reference"), bytes, mediaType) };
  },
  async "GET manifests"(remote, repo, query) {
    const manifest = remote.store.manifest(repo, required(query, "reference"));
    if (manifest === null) return new RawAnswer(404, Buffer.alloc(0));
    return new RawAnswer(200, manifest.bytes, { "Content-Type": manifest.mediaType, "Docker-Content-Digest": manifest.digest });
  },
  async "GET tags"(remote, repo) {
    return { tags: Object.fromEntries([...(remote.store.repo(repo)?.tags ?? [])].sort(([a], [b]) => (a < b ? -1 : 1))) };
  },
  async "GET repositories"(remote) {
    return { repositories: remote.store.repositories() };
  },
  async "GET uploads"(remote) {
    return { open: remote.store.openUploads() };
  },
};
