// worker/auth/scopes.ts: the Docker registry token protocol's scopes, and the Bearer challenge.
import { describe, expect, it } from "vitest";
import { CATALOG_SCOPE, type Scope, challenge, formatScope, parseScope, parseScopes, scopeFor } from "../../worker/auth/scopes";
import { type RepoName, parseRepoName } from "../../worker/oci/names";

/** A scope as plain data, so that toEqual compares action sets by content and order-free. */
function plain(scope: Scope | null) {
  return scope === null ? null : { type: scope.type, name: scope.name, actions: [...scope.actions].sort() };
}

const repo = (text: string): RepoName => parseRepoName(text);

describe("parseScope", () => {
  it("reads a repository scope with several actions", () => {
    expect(plain(parseScope("repository:team/app:pull,push"))).toEqual({ type: "repository", name: "team/app", actions: ["pull", "push"] });
  });

  it("keeps every slash of a nested repository name", () => {
    expect(parseScope("repository:team/sub/group/app:pull")?.name).toBe("team/sub/group/app");
  });

  it("reads delete and the wildcard action", () => {
    expect(plain(parseScope("repository:team/app:delete,*"))?.actions).toEqual(["*", "delete"]);
  });

  it("accepts and ignores a resource class on the type", () => {
    expect(plain(parseScope("repository(plugin):team/app:pull"))).toEqual({ type: "repository", name: "team/app", actions: ["pull"] });
  });

  it("reads the catalog scope", () => {
    expect(plain(parseScope("registry:catalog:*"))).toEqual({ type: "registry", name: "catalog", actions: ["*"] });
  });

  it("drops unknown actions and keeps the known ones", () => {
    expect(plain(parseScope("repository:team/app:pull,admin,fly"))?.actions).toEqual(["pull"]);
  });

  it("drops a scope whose actions are all unknown, so it grants nothing", () => {
    expect(parseScope("repository:team/app:admin")).toBeNull();
  });

  it("drops a scope with an empty action list", () => {
    expect(parseScope("repository:team/app:")).toBeNull();
  });

  it("drops an unknown resource type", () => {
    expect(parseScope("plugin:team/app:pull")).toBeNull();
  });

  it("drops a registry resource other than the catalog", () => {
    expect(parseScope("registry:users:*")).toBeNull();
  });

  it("drops a catalog scope without the * action", () => {
    expect(parseScope("registry:catalog:pull")).toBeNull();
  });

  it.each([
    ["an uppercase name", "repository:Team/App:pull"],
    ["a name with ..", "repository:team/../app:pull"],
    ["a name with an empty segment", "repository:team//app:pull"],
    ["a leading slash", "repository:/team/app:pull"],
    ["a hostname with a port", "repository:localhost:5000/team/app:pull"],
    ["an encoded slash", "repository:team%2Fapp:pull"],
    ["an overlong name", `repository:team/${"a".repeat(300)}:pull`],
    ["an empty name", "repository::pull"],
  ])("drops %s", (_, text) => {
    expect(parseScope(text)).toBeNull();
  });

  it.each(["", "repository", "repository:team/app", ":team/app:pull", "repository((x)):team/app:pull", "Repository:team/app:pull", "repository(plugin:team/app:pull"])(
    "drops the malformed scope %j",
    (text) => {
      expect(parseScope(text)).toBeNull();
    },
  );
});

describe("parseScopes", () => {
  it("reads one scope per scope parameter", () => {
    const scopes = parseScopes(["repository:team/app:pull", "repository:team/base:pull"]).map(plain);
    expect(scopes).toEqual([
      { type: "repository", name: "team/app", actions: ["pull"] },
      { type: "repository", name: "team/base", actions: ["pull"] },
    ]);
  });

  it("reads several space-separated scopes in one parameter", () => {
    const scopes = parseScopes(["repository:team/app:pull,push registry:catalog:*"]).map(plain);
    expect(scopes).toEqual([
      { type: "repository", name: "team/app", actions: ["pull", "push"] },
      { type: "registry", name: "catalog", actions: ["*"] },
    ]);
  });

  it("ignores repeated spaces between scopes", () => {
    expect(parseScopes(["  repository:team/app:pull   registry:catalog:*  "])).toHaveLength(2);
  });

  it("merges scopes on the same repository into one, actions joined", () => {
    expect(parseScopes(["repository:team/app:pull", "repository:team/app:push"]).map(plain)).toEqual([
      { type: "repository", name: "team/app", actions: ["pull", "push"] },
    ]);
  });

  it("keeps the valid scopes when others in the same parameter are malformed", () => {
    const scopes = parseScopes(["repository:Bad:pull repository:team/app:pull plugin:x:pull"]).map(plain);
    expect(scopes).toEqual([{ type: "repository", name: "team/app", actions: ["pull"] }]);
  });

  it("returns nothing for no scope parameter", () => {
    expect(parseScopes([])).toEqual([]);
  });

  it("reads the parameters of a token request URL", () => {
    const url = new URL("https://pier.example/token?service=pier&scope=repository%3Ateam%2Fapp%3Apull&scope=registry:catalog:*");
    expect(parseScopes(url.searchParams.getAll("scope")).map((scope) => formatScope(scope))).toEqual(["repository:team/app:pull", "registry:catalog:*"]);
  });
});

describe("scopeFor and formatScope", () => {
  it("writes the scope a request needs", () => {
    expect(scopeFor(repo("team/app"), ["pull", "push"])).toBe("repository:team/app:pull,push");
  });

  it("writes actions in a fixed order, once each", () => {
    expect(scopeFor(repo("team/app"), ["delete", "pull", "delete"])).toBe("repository:team/app:pull,delete");
  });

  it("round-trips through parseScope", () => {
    const text = scopeFor(repo("team/sub/app"), ["pull", "push", "delete"]);
    expect(formatScope(parseScope(text)!)).toBe(text);
  });

  it("names the catalog scope", () => {
    expect(formatScope(parseScope(CATALOG_SCOPE)!)).toBe("registry:catalog:*");
  });
});

describe("challenge", () => {
  it("names the realm and the service", () => {
    expect(challenge("https://pier.example/token", "pier.example")).toBe('Bearer realm="https://pier.example/token",service="pier.example"');
  });

  it("adds the scope the request needs, quoted whole despite its comma", () => {
    expect(challenge("https://pier.example/token", "pier.example", "repository:team/app:pull,push")).toBe(
      'Bearer realm="https://pier.example/token",service="pier.example",scope="repository:team/app:pull,push"',
    );
  });

  it("adds an RFC 6750 error after the scope when credentials fall short", () => {
    expect(challenge("https://p/token", "p", "repository:team/app:push", "insufficient_scope")).toBe(
      'Bearer realm="https://p/token",service="p",scope="repository:team/app:push",error="insufficient_scope"',
    );
  });

  it("joins several scopes with a space inside one scope parameter", () => {
    expect(challenge("https://p/token", "p", ["repository:team/app:pull,push", "repository:team/base:pull"])).toBe(
      'Bearer realm="https://p/token",service="p",scope="repository:team/app:pull,push repository:team/base:pull"',
    );
  });

  it("leaves the scope out when the list is empty", () => {
    expect(challenge("https://p/token", "p", [])).toBe('Bearer realm="https://p/token",service="p"');
  });

  it("escapes quotes and backslashes in a value", () => {
    expect(challenge('https://p/to"ken', "a\\b")).toBe('Bearer realm="https://p/to\\"ken",service="a\\\\b"');
  });

  it("produces a value the Headers API accepts", () => {
    const headers = new Headers({ "WWW-Authenticate": challenge("https://p/token", "p", CATALOG_SCOPE) });
    expect(headers.get("WWW-Authenticate")).toBe('Bearer realm="https://p/token",service="p",scope="registry:catalog:*"');
  });

  it.each(["https://p/token\r\nSet-Cookie: x=1", "pier\u0000"])("refuses a value with control characters: %j", (value) => {
    expect(() => challenge(value, "p")).toThrow(/control characters/);
  });
});
