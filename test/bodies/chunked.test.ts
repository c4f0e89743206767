// A chunked body (no Content-Length) far larger than 64 KiB, on every route outside /v2 that
// takes a body: read only until it passes the limit, then refused with 413 and the rest
// cancelled; never read to its end. Routes that take no body never read one at all.
import { describe, expect, it } from "vitest";
import { BODY_ROUTES, describeRoute, expectTooLarge, lazyBody, READ_BUDGET, send } from "./body-routes";

describe("a chunked 400 MB body", () => {
  for (const route of BODY_ROUTES.filter((candidate) => candidate.body !== "none")) {
    it(`is refused on ${describeRoute(route)} with 413 without being read to the end`, async () => {
      const { body, pulled } = lazyBody();
      const response = await send(route, body);
      expect(pulled()).toBeLessThan(READ_BUDGET);
      await expectTooLarge(response);
    });
  }

  for (const route of BODY_ROUTES.filter((candidate) => candidate.body === "none")) {
    it(`is not read by ${describeRoute(route)}, which takes no body`, async () => {
      const { body, pulled } = lazyBody();
      const response = await send(route, body);
      expect(response.status, await response.text()).toBeLessThan(500);
      expect(pulled()).toBeLessThan(READ_BUDGET);
    });
  }
});
