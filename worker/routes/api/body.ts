// The management API's request bodies: small JSON objects, read with a bound (bounded-body.ts).
import { readRequestBody, SMALL_BODY_BYTES } from "../../bounded-body";
import { type Body, parseObject } from "../../services/management/inputs";
import type { ApiContext } from "./actor";

/** The request's JSON body as an object; 413 over 64 KiB (not read past it), 400 when not an object. */
export async function jsonBody(c: ApiContext): Promise<Body> {
  const bytes = await readRequestBody(c.req.raw, SMALL_BODY_BYTES, "the JSON body");
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    body = undefined;
  }
  return parseObject(body);
}
