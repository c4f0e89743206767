// An HTTP server on 127.0.0.1 for the fakes the tests talk to (upstreams, remotes): a port the
// OS picks, and neither the server nor its connections keep the process alive, so vitest
// exits when its work is done. A handler that throws answers 500 (or drops a started answer).
import { createServer } from "node:http";
import { sendError } from "./fake-upstream-registry.mjs";

/**
 * @param {(req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse, url: URL, origin: string) => unknown} handle
 * @returns {Promise<{ origin: string, server: import("node:http").Server }>}
 */
export function listenOnLoopback(handle) {
  return new Promise((resolve, reject) => {
    let origin = "";
    const server = createServer((req, res) => {
      Promise.resolve(handle(req, res, new URL(req.url ?? "/", origin), origin)).catch((error) => {
        if (!res.headersSent) sendError(req, res, 500, "UNKNOWN", String(error));
        else res.destroy();
      });
    });
    server.on("connection", (socket) => socket.unref());
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") return reject(new Error("no TCP address"));
      origin = `http://127.0.0.1:${address.port}`;
      server.unref();
      resolve({ origin, server });
    });
  });
}
