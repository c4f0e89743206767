import { SELF } from "cloudflare:test";
import { it, expect } from "vitest";
it("answers /v2/", async () => {
  const r = await SELF.fetch("http://localhost/v2/");
  expect(r.status).toBe(200);
  expect(r.headers.get("Docker-Distribution-API-Version")).toBe("registry/2.0");
});
