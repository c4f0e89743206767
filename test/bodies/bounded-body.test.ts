// The one reader of whole bodies (worker/bounded-body.ts), asked directly: here the bytes it
// pulls are counted exactly, with no HTTP layer between the sender and the reader.
import { describe, expect, it } from "vitest";
import { readBounded, readRequestBody } from "../../worker/bounded-body";
import { RegistryError } from "../../worker/errors";
import { refusal } from "../helpers/identities";
import { lazyBody } from "./body-routes";

const LIMIT = 64 * 1024;
const PIECE = 64 * 1024; // what lazyBody hands over per pull

function post(body: BodyInit, headers: Record<string, string> = {}): Request {
  return new Request("http://registry.test/api/v1/users", { method: "POST", body, headers });
}

describe("readRequestBody", () => {
  it("refuses a declared length over the limit with 413 without pulling a byte", async () => {
    const { body, pulled } = lazyBody();
    const error = await refusal(readRequestBody(post(body, { "Content-Length": String(LIMIT + 1) }), LIMIT, "the JSON body"));
    expect(error).toMatchObject({ code: "SIZE_INVALID", status: 413 });
    expect(error.message).toBe("the JSON body is larger than this endpoint's limit of 64 KiB (65536 bytes)");
    expect(pulled()).toBe(0);
  });

  it("stops a body without Content-Length one piece past the limit, and cancels the rest", async () => {
    const { body, pulled, cancelled } = lazyBody();
    const error = await refusal(readBounded(body, null, LIMIT, "the form"));
    expect(error).toMatchObject({ code: "SIZE_INVALID", status: 413 });
    expect(pulled()).toBe(LIMIT + PIECE);
    expect(cancelled()).toBe(true);
  });

  it("returns a body of exactly the limit whole", async () => {
    const bytes = await readRequestBody(post(new Uint8Array(LIMIT).fill(0x61)), LIMIT, "the form");
    expect(bytes.byteLength).toBe(LIMIT);
  });

  it("answers a body that breaks off with 400 SIZE_INVALID, not a 500", async () => {
    const broken = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.error(new Error("the sender went away"));
      },
    });
    const error = await refusal(readRequestBody(post(broken), LIMIT, "the JSON body"));
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ code: "SIZE_INVALID", status: 400 });
    expect(error.message).toContain("the sender went away");
  });
});
