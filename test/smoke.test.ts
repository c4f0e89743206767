import { expect, it } from "vitest";
import { pushImage, request } from "./helpers/registry";

it("serves a pushed image back byte for byte", async () => {
  const image = await pushImage("smoke/app", "v1");
  const response = await request("/v2/smoke/app/manifests/v1");
  expect(response.status).toBe(200);
  expect(new Uint8Array(await response.arrayBuffer())).toEqual(image.bytes);
});
