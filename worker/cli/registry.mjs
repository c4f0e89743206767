// A registry as the CLI sees it: base URL (plain HTTP for loopback, as docker treats those
// hosts as insecure registries), sign-in through the challenge the registry answers GET /v2/
// with (distribution spec "token" flow, or Basic), and one request() that adds the credentials
// and signs in again once if a token expired mid-push.
import { describeError, drain, readBody, send } from "./http.mjs";

/** Whether `host` (host[:port]) is a loopback address: 127.0.0.0/8, localhost or [::1]. */
export function isLoopback(host) {
  const name = host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.split(":")[0];
  return name === "localhost" || name === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/** Parses one WWW-Authenticate header: { scheme, params }. */
export function parseChallenge(header) {
  const match = /^\s*(\w+)\s*(.*)$/s.exec(header ?? "");
  if (!match) return null;
  const params = {};
  for (const [, key, quoted, bare] of match[2].matchAll(/(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) params[key.toLowerCase()] = quoted ?? bare;
  return { scheme: match[1].toLowerCase(), params };
}

/**
 * `host` is "host[:port]"; `credentials` { username, password } or null; `actions` the scope
 * asked for ("pull" or "pull,push").
 */
export function createRegistry(host, { credentials = null, plainHttp = false, repository, actions }) {
  const base = `${plainHttp || isLoopback(host) ? "http" : "https"}://${host}`;
  let authorization = null;
  const who = credentials ? `as "${credentials.username}"` : "anonymously";

  async function signIn(challengeHeader) {
    const challenge = parseChallenge(challengeHeader);
    const basic = credentials ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}` : null;
    if (challenge?.scheme === "basic") {
      if (!basic) throw new Error(`${host} asks for a user name and password: pass --creds, set PIER_USERNAME/PIER_PASSWORD, or docker login`);
      authorization = basic;
      return;
    }
    if (challenge?.scheme !== "bearer" || !challenge.params.realm) throw new Error(`${host} answered 401 without a usable challenge (${challengeHeader ?? "none"})`);
    const url = new URL(challenge.params.realm, base);
    if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
    url.searchParams.set("scope", `repository:${repository}:${actions}`);
    const response = await send("GET", url.href, { headers: basic ? { Authorization: basic } : {} });
    if (response.statusCode !== 200) {
      throw new Error(`sign-in to ${host} ${who} failed (${await describeError(response)}): check the user name and password`);
    }
    const body = JSON.parse((await readBody(response)).toString("utf8"));
    const token = body.token ?? body.access_token;
    if (!token) throw new Error(`the token service at ${url.origin} answered without a token`);
    authorization = `Bearer ${token}`;
  }

  /** Asks GET /v2/ and signs in if the registry challenges us; fails clearly when it is unreachable. */
  async function connect() {
    let response;
    try {
      response = await send("GET", `${base}/v2/`);
    } catch (error) {
      throw new Error(`cannot reach ${base}/v2/ (${error.code ?? error.message})${base.startsWith("https") ? "; for a plain-HTTP registry pass --plain-http" : ""}`);
    }
    if (response.statusCode === 401) {
      await drain(response);
      await signIn(response.headers["www-authenticate"]);
    } else if (response.statusCode !== 200) throw new Error(`GET ${base}/v2/: ${await describeError(response)}`);
    else await drain(response);
  }

  /**
   * One request with our credentials. `body` may be a function returning a fresh body, so that a
   * request answered 401 (an expired token) can be sent again after signing in once more.
   */
  async function request(method, path, { headers = {}, body = null } = {}) {
    const url = new URL(path, base).href;
    const make = () => (typeof body === "function" ? body() : body);
    const withAuth = () => (authorization ? { ...headers, Authorization: authorization } : headers);
    let response = await send(method, url, { headers: withAuth(), body: make() });
    if (response.statusCode === 401) {
      await drain(response);
      await signIn(response.headers["www-authenticate"]);
      response = await send(method, url, { headers: withAuth(), body: make() });
      if (response.statusCode === 401) throw new Error(`${method} ${path}: unauthorized ${who} (${await describeError(response)})`);
    }
    return response;
  }

  return { base, host, repository, connect, request, resolve: (location) => new URL(location, base).href };
}
