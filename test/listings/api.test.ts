// The API version check and unknown endpoints (OCI distribution spec v1.1, end-1; "Error Codes").
import { describe, expect, it } from "vitest";
import { errorCode, request } from "../helpers/registry";

describe("GET /v2/", () => {
  it("answers 200 with Docker-Distribution-API-Version: registry/2.0", async () => {
    const response = await request("/v2/");
    expect(response.status).toBe(200);
    expect(response.headers.get("Docker-Distribution-API-Version")).toBe("registry/2.0");
  });

  it("answers /v2 without the trailing slash too", async () => {
    expect((await request("/v2")).status).toBe(200);
  });

  it("answers HEAD /v2/ with 200", async () => {
    expect((await request("/v2/", { method: "HEAD" })).status).toBe(200);
  });
});

describe("unknown endpoints", () => {
  it.each([
    ["GET", "/v2/library/ubuntu/unknown"],
    ["GET", "/v2/library/ubuntu/tags"],
    ["GET", "/v2/library/ubuntu/manifests/"],
    ["GET", "/v2/library/ubuntu/blobs/"],
    ["GET", "/not-the-api"],
    ["GET", "/"],
    ["POST", "/v2/library/ubuntu/manifests/latest"],
    ["PATCH", "/v2/library/ubuntu/tags/list"],
  ])("answers %s %s with 404 and a JSON error body", async (method, path) => {
    const response = await request(path, { method });
    expect(response.status).toBe(404);
    expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(typeof (await errorCode(response))).toBe("string");
  });

  it("carries Docker-Distribution-API-Version on errors too", async () => {
    const response = await request("/v2/library/ubuntu/unknown");
    expect(response.headers.get("Docker-Distribution-API-Version")).toBe("registry/2.0");
  });

  it("refuses percent-encoded path tricks with 400 NAME_INVALID, never 5xx", async () => {
    const response = await request("/v2/library%2fubuntu/tags/list");
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe("NAME_INVALID");
  });
});
