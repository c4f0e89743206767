// A body whose Content-Length is over 64 KiB, on every route outside /v2 that takes a body:
// refused with 413 before a byte of it is read (and, for the management API, before the
// caller's credentials are checked), as Cloudflare's edge refuses one over the plan's cap.
import { describe, expect, it } from "vitest";
import { SMALL_BODY_BYTES } from "../../worker/bounded-body";
import { BODY_ROUTES, describeRoute, expectTooLarge, HUGE, lazyBody, READ_BUDGET, send } from "./body-routes";

describe("a body declared larger than 64 KiB", () => {
  for (const route of BODY_ROUTES) {
    it(`is refused on ${describeRoute(route)} with 413 before it is read`, async () => {
      const { body, pulled } = lazyBody();
      await expectTooLarge(await send(route, body, { "Content-Length": String(HUGE) }));
      expect(pulled()).toBeLessThan(READ_BUDGET);
    });
  }

  it("is refused one byte over the limit", async () => {
    await expectTooLarge(await send(BODY_ROUTES[1]!, new Uint8Array(SMALL_BODY_BYTES + 1).fill(0x20)));
  });

  it("is refused before the management API checks who is calling", async () => {
    const { body } = lazyBody();
    await expectTooLarge(await send({ ...BODY_ROUTES[1]!, as: null }, body, { "Content-Length": String(HUGE) }));
  });
});
