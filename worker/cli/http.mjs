// The one HTTP primitive of the CLI, on node:http/https rather than fetch: an upload must send
// a streamed chunk with an exact Content-Length (fetch would switch to chunked encoding), and a
// connection dropped mid-PATCH must surface as an error we can resume from, not a hang.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { Readable } from "node:stream";

const TIMEOUT_MS = 120_000; // per socket inactivity, so a stalled registry fails instead of hanging

/**
 * Sends one request; `body` is null, a Buffer/string, or a Readable (then pass Content-Length).
 * Resolves with the response (an IncomingMessage: statusCode, headers, readable body) once the
 * headers arrive; rejects on a network error (ECONNRESET, ECONNREFUSED, timeout).
 */
export function send(method, url, { headers = {}, body = null } = {}) {
  const target = new URL(url);
  const request = target.protocol === "https:" ? httpsRequest : httpRequest;
  const allHeaders = { "User-Agent": "pier-cli/0.1", ...headers };
  if (body !== null && !(body instanceof Readable)) allHeaders["Content-Length"] = String(Buffer.byteLength(body));
  if (body === null && (method === "PUT" || method === "POST" || method === "PATCH")) allHeaders["Content-Length"] ??= "0";
  return new Promise((resolve, reject) => {
    const req = request(target, { method, headers: allHeaders, timeout: TIMEOUT_MS }, resolve);
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error(`${method} ${target.host}${target.pathname}: no answer for ${TIMEOUT_MS / 1000} s`)));
    if (body instanceof Readable) {
      body.on("error", (error) => req.destroy(error));
      // A dropped connection must not leave the file stream (and its descriptor) open.
      req.on("close", () => body.destroy());
      body.pipe(req);
    } else req.end(body ?? undefined);
  });
}

/** The whole response body (only for small answers: manifests, tokens, errors). */
export async function readBody(response, limit = 16 * 1024 * 1024) {
  const chunks = [];
  let total = 0;
  for await (const chunk of response) {
    total += chunk.length;
    if (total > limit) {
      response.destroy();
      throw new Error(`answer larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Reads and drops a body we do not need, so the socket is reusable and nothing leaks. */
export async function drain(response) {
  response.resume();
  await new Promise((resolve) => (response.readableEnded ? resolve() : response.on("end", resolve).on("error", resolve).on("close", resolve)));
}

/** A short, human description of an error answer: the OCI error codes and messages when there are some. */
export async function describeError(response) {
  const text = (await readBody(response).catch(() => Buffer.alloc(0))).toString("utf8");
  try {
    const errors = JSON.parse(text).errors ?? [];
    if (errors.length > 0) return `HTTP ${response.statusCode} ${errors.map((e) => `${e.code}: ${e.message ?? ""}`).join("; ")}`;
  } catch {
    // not JSON: show the start of the text
  }
  return `HTTP ${response.statusCode}${text ? ` ${text.slice(0, 200).trim()}` : ""}`;
}
