// The guard: every route of the app outside /v2 that takes POST, PUT or PATCH is in
// BODY_ROUTES, which the tests beside this one send oversized bodies to (413, not read to the
// end). A new route that reads a body must be added there, and so gets those checks.
import { describe, expect, it } from "vitest";
import { buildApp } from "../../worker/app";
import { BODY_ROUTES, describeRoute } from "./body-routes";

const WRITES = new Set(["POST", "PUT", "PATCH"]);

describe("the app's route table", () => {
  it("has every POST, PUT and PATCH route outside /v2 checked for oversized bodies", () => {
    const routes = buildApp()
      .routes.filter((route) => WRITES.has(route.method) && !/^\/v2(\/|$)/.test(route.path))
      .map((route) => `${route.method} ${route.path}`);
    expect(routes.length).toBeGreaterThan(0);
    expect([...new Set(routes)].sort()).toEqual(BODY_ROUTES.map(describeRoute).sort());
  });
});
