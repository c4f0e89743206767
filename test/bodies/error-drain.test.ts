// When a request is refused for something else than its size, Pier reads (drains) its body
// before answering, so a client still sending sees the answer rather than a reset connection
// (worker/streams.ts drain). Outside /v2 bodies are small: no more than 64 KiB is drained
// there, never up to the 100 MB body cap that a blob chunk under /v2 may reach.
import { describe, expect, it } from "vitest";
import { expectError } from "../helpers/management";
import { request } from "../helpers/registry";
import { lazyBody, READ_BUDGET } from "./body-routes";

describe("a refused request outside /v2 with a large chunked body", () => {
  it("answers an anonymous POST /api/v1/users with 401 after draining no more than 64 KiB", async () => {
    const { body, pulled } = lazyBody();
    const response = await request("/api/v1/users", { method: "POST", body, headers: { "Content-Type": "application/json" } }, null);
    await expectError(response, 401, "UNAUTHORIZED");
    expect(pulled()).toBeLessThan(READ_BUDGET);
  });

  it("answers a DELETE of an unknown user with 404 after draining no more than 64 KiB", async () => {
    const { body, pulled } = lazyBody();
    await expectError(await request("/api/v1/users/nobody-at-all", { method: "DELETE", body }), 404, "NAME_UNKNOWN");
    expect(pulled()).toBeLessThan(READ_BUDGET);
  });
});
