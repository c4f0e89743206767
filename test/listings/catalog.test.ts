// GET /v2/_catalog: repository names in lexical order, paginated like the tags list. Other test
// files may have pushed repositories too, so these tests page from a `last` just before their
// own unique prefix.
import { describe, expect, it } from "vitest";
import { errorCode, nextLinkOf, pushBlob, randomBytes, request, uniqueRepo } from "../helpers/registry";

async function repositories(names: string[]): Promise<void> {
  for (const [index, name] of names.entries()) await pushBlob(name, randomBytes(8, index + 1));
}

async function catalogPage(path: string): Promise<{ response: Response; names: string[] }> {
  const response = await request(path);
  expect(response.status, await response.clone().text()).toBe(200);
  return { response, names: ((await response.json()) as { repositories: string[] }).repositories };
}

describe("GET /v2/_catalog", () => {
  it("lists repositories as JSON under `repositories`", async () => {
    const prefix = uniqueRepo("catalog");
    await repositories([`${prefix}/only`]);
    const { response, names } = await catalogPage(`/v2/_catalog?last=${prefix}`);
    expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(names[0]).toBe(`${prefix}/only`);
  });

  it("lists repositories in lexical order", async () => {
    const prefix = uniqueRepo("catalog");
    await repositories([`${prefix}/c`, `${prefix}/a`, `${prefix}/b/nested`, `${prefix}/b`]);
    const { names } = await catalogPage(`/v2/_catalog?n=4&last=${prefix}`);
    expect(names).toEqual([`${prefix}/a`, `${prefix}/b`, `${prefix}/b/nested`, `${prefix}/c`]);
  });

  it("returns n names and a Link to the next page", async () => {
    const prefix = uniqueRepo("catalog");
    await repositories([`${prefix}/a`, `${prefix}/b`, `${prefix}/c`]);
    const { response, names } = await catalogPage(`/v2/_catalog?n=2&last=${prefix}`);
    expect(names).toEqual([`${prefix}/a`, `${prefix}/b`]);
    expect(response.headers.get("Link")).toBe(`</v2/_catalog?n=2&last=${encodeURIComponent(`${prefix}/b`)}>; rel="next"`);
  });

  it("follows Link headers to the following pages", async () => {
    const prefix = uniqueRepo("catalog");
    const mine = [`${prefix}/a`, `${prefix}/b`, `${prefix}/c`, `${prefix}/d`, `${prefix}/e`];
    await repositories(mine);
    const seen: string[] = [];
    let next: string | null = `/v2/_catalog?n=2&last=${prefix}`;
    while (next !== null && seen.length < mine.length) {
      const { response, names } = await catalogPage(next);
      expect(names.length).toBeLessThanOrEqual(2);
      seen.push(...names);
      next = nextLinkOf(response);
    }
    expect(seen.slice(0, mine.length)).toEqual(mine);
  });

  it("sends no Link on the last page", async () => {
    // "zzzzzz-" sorts after every other test's repositories: nothing follows these two.
    const prefix = uniqueRepo("zzzzzz-catalog");
    await repositories([`${prefix}/a`, `${prefix}/b`]);
    const { response, names } = await catalogPage(`/v2/_catalog?n=5&last=${prefix}`);
    expect(names).toEqual([`${prefix}/a`, `${prefix}/b`]);
    expect(response.headers.has("Link")).toBe(false);
  });

  it("answers n=0 with an empty list and no Link", async () => {
    await repositories([`${uniqueRepo("catalog")}/a`]);
    const { response, names } = await catalogPage("/v2/_catalog?n=0");
    expect(names).toEqual([]);
    expect(response.headers.has("Link")).toBe(false);
  });

  it("answers a last past every name with an empty list", async () => {
    const { response, names } = await catalogPage("/v2/_catalog?last=zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
    expect(names).toEqual([]);
    expect(response.headers.has("Link")).toBe(false);
  });

  it("refuses a malformed n with 400", async () => {
    const response = await request("/v2/_catalog?n=ten");
    expect(response.status).toBe(400);
    expect(typeof (await errorCode(response))).toBe("string");
  });
});
