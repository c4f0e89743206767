import { env } from "cloudflare:test";
import { it, expect } from "vitest";
it("has bindings", async () => {
  expect(env.BLOBS).toBeDefined();
  await env.BLOBS.put("x", "y");
  expect(await (await env.BLOBS.get("x"))!.text()).toBe("y");
});
