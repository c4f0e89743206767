// The control API of the fake upstreams: how tests (running inside workerd, so only able to
// speak HTTP) seed content, script behaviours, release held responses and read the request
// log. The repository is everything after the first path segment, so `a/b/c` needs no escaping:
//   PUT    /manifests/<repo>?reference=<tag|digest>&mediaType=<type>   body: manifest bytes
//   DELETE /manifests/<repo>?reference=<tag>
//   PUT    /blobs/<repo>?algorithm=sha256|sha512                      body: blob bytes
//   PUT    /behaviour/<repo>                                          body: JSON, {} clears
//   POST   /release/<repo>
//   GET    /log/<repo>
import { sendJson } from "./fake-upstream-registry.mjs";

/** @typedef {import("./fake-upstream-store.mjs").FakeUpstreamStore} FakeUpstreamStore */

/**
 * A request's whole body (the fake remotes' control API and the webhook receiver read theirs so too).
 * @param {import("node:http").IncomingMessage} req
 */
export async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A control call the fake cannot honour: the test is wrong, so say exactly why. */
class ControlError extends Error {}

/**
 * @param {FakeUpstreamStore} store
 * @param {import("node:http").IncomingMessage} req
 * @param {import("node:http").ServerResponse} res
 * @param {URL} url
 */
export async function serveControl(store, req, res, url) {
  try {
    const match = /^\/([a-z]+)\/(.+)$/.exec(url.pathname);
    if (!match) throw new ControlError(`no control route for ${req.method} ${url.pathname}`);
    const [, resource, repo] = match;
    const action = CONTROL_ROUTES[`${req.method} ${resource}`];
    if (!action) throw new ControlError(`no control route for ${req.method} /${resource}/…`);
    sendJson(res, 200, await action(store, repo, url.searchParams, req));
  } catch (error) {
    sendJson(res, error instanceof ControlError ? 400 : 500, { error: String(error instanceof Error ? error.message : error) });
  }
}

/** @type {Record<string, (store: FakeUpstreamStore, repo: string, query: URLSearchParams, req: import("node:http").IncomingMessage) => Promise<unknown>>} */
const CONTROL_ROUTES = {
  async "PUT manifests"(store, repo, query, req) {
    const bytes = await readBody(req);
    const mediaType = query.get("mediaType") ?? mediaTypeInside(bytes);
    if (!mediaType) throw new ControlError("mediaType is required when the manifest has no mediaType field");
    return { digest: store.putManifest(repo, query.get("reference"), bytes, mediaType) };
  },
  async "DELETE manifests"(store, repo, query) {
    const tag = query.get("reference");
    if (!tag) throw new ControlError("reference (the tag to remove) is required");
    return { removed: store.removeTag(repo, tag) };
  },
  async "PUT blobs"(store, repo, query, req) {
    const algorithm = query.get("algorithm") ?? "sha256";
    if (algorithm !== "sha256" && algorithm !== "sha512") throw new ControlError(`unsupported algorithm "${algorithm}"`);
    return { digest: store.putBlob(repo, await readBody(req), algorithm) };
  },
  async "PUT behaviour"(store, repo, _query, req) {
    let behaviour;
    try {
      behaviour = JSON.parse((await readBody(req)).toString("utf8") || "{}");
      store.setBehaviour(repo, behaviour);
    } catch (error) {
      throw new ControlError(`bad behaviour: ${error instanceof Error ? error.message : error}`);
    }
    return { behaviour: store.behaviour(repo) };
  },
  async "POST release"(store, repo) {
    return { released: store.release(repo) };
  },
  async "GET log"(store, repo) {
    return store.log(repo);
  },
};

/** The `mediaType` field of JSON bytes (a manifest seeded without one given), or null. */
export function mediaTypeInside(bytes) {
  try {
    const value = JSON.parse(bytes.toString("utf8"));
    return typeof value?.mediaType === "string" ? value.mediaType : null;
  } catch {
    return null;
  }
}
