// What the local runs of Pier share (`npm start`, the e2e tests, the benchmarks): the
// environment wrangler and Miniflare get, a way to pick a free loopback port, and how their
// clients sign in as admin.
import { createServer } from "node:net";

/** A local registry talks to nothing but its clients: no request.cf lookup, no telemetry. */
export const LOCAL_WRANGLER_ENV = { CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" };

/** A port nobody listens on right now (the OS picks it; it is released for a server to take). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The account every Pier has, whose password is its ADMIN_PASSWORD secret. */
export const ADMIN_USERNAME = "admin";

/**
 * An Authorization header value signing in as admin with Basic (RFC 7617): Pier takes it on
 * every request (and checks the password once a minute, not per request), so a plain HTTP
 * client needs no token dance.
 */
export function adminAuthorization(password) {
  return basicAuthorization(ADMIN_USERNAME, password);
}

/** An Authorization header value with Basic credentials (RFC 7617) for any account. */
export function basicAuthorization(username, password) {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}
