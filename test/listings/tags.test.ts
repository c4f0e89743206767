// Listing tags (OCI distribution spec v1.1, "Listing Tags"): lexical order, `n` and `last`,
// and a `Link: <…?n=…&last=…>; rel="next"` header on every page but the last.
import { describe, expect, it } from "vitest";
import { errorCode, nextLinkOf, pushBlob, pushImage, pushManifest, randomBytes, request, uniqueRepo } from "../helpers/registry";

async function repositoryWithTags(label: string, tags: string[]): Promise<string> {
  const repository = uniqueRepo(label);
  const { bytes } = await pushImage(repository, tags[0]!);
  for (const tag of tags.slice(1)) await pushManifest(repository, tag, bytes);
  return repository;
}

async function tagsPage(path: string): Promise<{ response: Response; body: { name: string; tags: string[] } }> {
  const response = await request(path);
  expect(response.status, await response.clone().text()).toBe(200);
  return { response, body: (await response.json()) as { name: string; tags: string[] } };
}

describe("GET /v2/<name>/tags/list", () => {
  it("answers 200 with the repository name and its tags as JSON", async () => {
    const repository = await repositoryWithTags("tags/basic", ["v1"]);
    const { response, body } = await tagsPage(`/v2/${repository}/tags/list`);
    expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(body).toEqual({ name: repository, tags: ["v1"] });
  });

  it("lists tags in lexical (byte) order whatever order they were pushed in", async () => {
    const repository = await repositoryWithTags("tags/sorted", ["latest", "b", "A", "1.0", "_x", "a", "B", "10", "9"]);
    const { body } = await tagsPage(`/v2/${repository}/tags/list`);
    expect(body.tags).toEqual(["1.0", "10", "9", "A", "B", "_x", "a", "b", "latest"]);
  });

  it("sends no Link header when everything fits on one page", async () => {
    const repository = await repositoryWithTags("tags/onepage", ["a", "b"]);
    const { response } = await tagsPage(`/v2/${repository}/tags/list`);
    expect(response.headers.has("Link")).toBe(false);
  });

  it("answers an empty list for a repository with blobs but no tags", async () => {
    const repository = uniqueRepo("tags/untagged");
    await pushBlob(repository, randomBytes(10, 1));
    const { body } = await tagsPage(`/v2/${repository}/tags/list`);
    expect(body).toEqual({ name: repository, tags: [] });
  });

  it("answers an unknown repository with 404 NAME_UNKNOWN", async () => {
    const response = await request(`/v2/${uniqueRepo("tags/unknown")}/tags/list`);
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe("NAME_UNKNOWN");
  });

  it("refuses an invalid repository name with 400 NAME_INVALID", async () => {
    const response = await request("/v2/Not_Valid/tags/list");
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe("NAME_INVALID");
  });
});

describe("pagination with n and last", () => {
  const tags = ["a", "b", "c", "d", "e"];

  it("returns the first n tags and a Link to the next page", async () => {
    const repository = await repositoryWithTags("tags/first", tags);
    const { response, body } = await tagsPage(`/v2/${repository}/tags/list?n=2`);
    expect(body.tags).toEqual(["a", "b"]);
    expect(response.headers.get("Link")).toBe(`</v2/${repository}/tags/list?n=2&last=b>; rel="next"`);
  });

  it("follows Link headers through every page and sends none on the last", async () => {
    const repository = await repositoryWithTags("tags/walk", tags);
    const pages: string[][] = [];
    let next: string | null = `/v2/${repository}/tags/list?n=2`;
    while (next !== null) {
      const { response, body } = await tagsPage(next);
      pages.push(body.tags);
      next = nextLinkOf(response);
      expect(pages.length).toBeLessThan(10);
    }
    expect(pages).toEqual([["a", "b"], ["c", "d"], ["e"]]);
  });

  it("sends no Link when the last page is exactly full", async () => {
    const repository = await repositoryWithTags("tags/exact", ["a", "b", "c", "d"]);
    const { response, body } = await tagsPage(`/v2/${repository}/tags/list?n=2&last=b`);
    expect(body.tags).toEqual(["c", "d"]);
    expect(response.headers.has("Link")).toBe(false);
  });

  it("returns the tags after last", async () => {
    const repository = await repositoryWithTags("tags/last", tags);
    const { body } = await tagsPage(`/v2/${repository}/tags/list?last=c`);
    expect(body.tags).toEqual(["d", "e"]);
  });

  it("returns the tags after a last that is not itself a tag", async () => {
    const repository = await repositoryWithTags("tags/between", tags);
    const { body } = await tagsPage(`/v2/${repository}/tags/list?n=2&last=bb`);
    expect(body.tags).toEqual(["c", "d"]);
  });

  it("returns an empty list when last is the final tag", async () => {
    const repository = await repositoryWithTags("tags/end", tags);
    const { response, body } = await tagsPage(`/v2/${repository}/tags/list?n=2&last=e`);
    expect(body.tags).toEqual([]);
    expect(response.headers.has("Link")).toBe(false);
  });

  it("returns all tags without Link when n is larger than their number", async () => {
    const repository = await repositoryWithTags("tags/bign", tags);
    const { response, body } = await tagsPage(`/v2/${repository}/tags/list?n=100`);
    expect(body.tags).toEqual(tags);
    expect(response.headers.has("Link")).toBe(false);
  });

  it("returns an empty list without Link for n=0", async () => {
    const repository = await repositoryWithTags("tags/zero", tags);
    const { response, body } = await tagsPage(`/v2/${repository}/tags/list?n=0`);
    expect(body).toEqual({ name: repository, tags: [] });
    expect(response.headers.has("Link")).toBe(false);
  });

  it("refuses a negative n with 400", async () => {
    const repository = await repositoryWithTags("tags/negative", tags);
    const response = await request(`/v2/${repository}/tags/list?n=-1`);
    expect(response.status).toBe(400);
    expect(typeof (await errorCode(response))).toBe("string");
  });

  it("no longer lists a deleted tag", async () => {
    const repository = await repositoryWithTags("tags/deleted", ["a", "b"]);
    expect((await request(`/v2/${repository}/manifests/a`, { method: "DELETE" })).status).toBe(202);
    const { body } = await tagsPage(`/v2/${repository}/tags/list`);
    expect(body.tags).toEqual(["b"]);
  });
});
