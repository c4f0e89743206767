// The management API's request bodies: small JSON objects, read with a bound.
import { RegistryError } from "../../errors";
import { type Body, parseObject } from "../../services/management/inputs";
import { readAtMost } from "../../streams";
import type { ApiContext } from "./actor";

/** Management bodies are a few hundred bytes; a larger one is not one of them, and is not kept. */
const MAX_BODY_BYTES = 64 * 1024;

/** The request's JSON body as an object, or 400. */
export async function jsonBody(c: ApiContext): Promise<Body> {
  const bytes = await readAtMost(c.req.raw.body, MAX_BODY_BYTES);
  if (bytes === null) throw new RegistryError("INVALID_REQUEST", `the body is over ${MAX_BODY_BYTES} bytes`);
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    body = undefined;
  }
  return parseObject(body);
}
