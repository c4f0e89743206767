// Scopes of the Docker registry token protocol (distribution's "Token Scope Documentation"):
//
//   scope             := resourcescope [ ' ' resourcescope ]*
//   resourcescope     := resourcetype ":" resourcename ":" action [ ',' action ]*
//   resourcetype      := resourcetypevalue [ '(' resourcetypevalue ')' ]
//   resourcetypevalue := /[a-z0-9]+/
//   action            := /[a-z]*/        (plus "*", which distribution uses for "everything")
//
// A token request may carry several `scope` parameters, and some clients put several scopes in
// one, space-separated. Parsing is lenient in one direction only: what Pier does not know (a
// resource type, an action, a name outside the OCI grammar) is dropped, so the token simply
// does not grant it; nothing unknown is ever widened into access.
//
// The other direction builds what a refused request answers: the scope it needs, and the
// `WWW-Authenticate: Bearer …` challenge that sends the client to the token endpoint.
//
// Pure: no I/O.
import { type RepoName, tryParseRepoName } from "../oci/names";

export type RepositoryAction = "pull" | "push" | "delete" | "*";

export type Scope =
  | { type: "repository"; name: RepoName; actions: Set<RepositoryAction> }
  | { type: "registry"; name: "catalog"; actions: Set<"*"> };

/** What GET /v2/_catalog needs. */
export const CATALOG_SCOPE = "registry:catalog:*";

/** The order actions are written in, whatever order they were asked in. */
const ACTION_ORDER: readonly RepositoryAction[] = ["pull", "push", "delete", "*"];

// The class in parentheses (`repository(plugin)`, sent by old Docker plugin clients) is
// accepted and ignored: it narrows nothing Pier serves.
const RESOURCE_TYPE = /^([a-z0-9]+)(?:\([a-z0-9]+\))?$/;

function isRepositoryAction(text: string): text is RepositoryAction {
  return (ACTION_ORDER as readonly string[]).includes(text);
}

/**
 * One resource scope, or null when nothing in it is something Pier grants. The name sits
 * between the first and the last colon: a name cannot hold a colon in Pier's grammar (a
 * hostname with a port would, and is then refused as a name), and actions never do.
 */
export function parseScope(text: string): Scope | null {
  const first = text.indexOf(":");
  const last = text.lastIndexOf(":");
  if (first <= 0 || last === first) return null;
  const type = RESOURCE_TYPE.exec(text.slice(0, first))?.[1];
  const name = text.slice(first + 1, last);
  const actions = text.slice(last + 1).split(",");
  switch (type) {
    case "repository": {
      const repository = tryParseRepoName(name);
      const known = new Set(actions.filter(isRepositoryAction));
      return repository !== null && known.size > 0 ? { type: "repository", name: repository, actions: known } : null;
    }
    case "registry":
      // The catalog is the only registry resource, and "*" the only action on it.
      return name === "catalog" && actions.includes("*") ? { type: "registry", name: "catalog", actions: new Set(["*"]) } : null;
    default:
      return null;
  }
}

/**
 * Every scope in the `scope` parameters of a token request (`url.searchParams.getAll("scope")`),
 * each possibly holding several scopes separated by spaces. Scopes on the same resource are
 * merged (their actions joined), first appearance first, so each resource is decided once.
 */
export function parseScopes(parameters: Iterable<string>): Scope[] {
  const byResource = new Map<string, Scope>();
  for (const parameter of parameters) {
    for (const text of parameter.split(" ")) {
      const scope = parseScope(text);
      if (scope === null) continue;
      const key = `${scope.type}:${scope.name}`;
      const seen = byResource.get(key);
      if (seen === undefined) byResource.set(key, scope);
      else for (const action of scope.actions) (seen.actions as Set<string>).add(action);
    }
  }
  return [...byResource.values()];
}

/** A scope written back as text, actions in a fixed order: the inverse of parseScope. */
export function formatScope(scope: Scope): string {
  const actions = ACTION_ORDER.filter((action) => (scope.actions as Set<string>).has(action));
  return `${scope.type}:${scope.name}:${actions.join(",")}`;
}

/** The scope a request on `repository` needs, e.g. `repository:team/app:pull,push`. */
export function scopeFor(repository: RepoName, actions: readonly [RepositoryAction, ...RepositoryAction[]]): string {
  return formatScope({ type: "repository", name: repository, actions: new Set(actions) });
}

/**
 * The `WWW-Authenticate` value that sends a client to the token endpoint (RFC 6750 §3, as the
 * Docker token protocol uses it): `Bearer realm="…",service="…"`, plus `scope="…"` when the
 * request needs one or more (several are joined by spaces, as distribution does for a
 * cross-repository mount). Values are RFC 9110 quoted-strings: `"` and `\` are escaped.
 * `error` (RFC 6750 §3.1) says why credentials that were sent fall short, e.g.
 * `insufficient_scope` for a token that lacks the action asked for.
 */
export function challenge(realm: string, service: string, scope?: string | readonly string[], error?: "insufficient_scope" | "invalid_token"): string {
  const scopes = scope === undefined ? [] : typeof scope === "string" ? [scope] : scope;
  const parameters = [`realm=${quoted(realm)}`, `service=${quoted(service)}`];
  if (scopes.length > 0) parameters.push(`scope=${quoted(scopes.join(" "))}`);
  if (error !== undefined) parameters.push(`error=${quoted(error)}`);
  return `Bearer ${parameters.join(",")}`;
}

// A control character cannot be carried by a quoted-string (and a CR or LF would end the
// header): that is a configuration or programming error, so it fails loudly.
function quoted(value: string): string {
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new Error(`a WWW-Authenticate parameter cannot hold control characters: ${JSON.stringify(value)}`);
  return `"${value.replace(/["\\]/g, (character) => `\\${character}`)}"`;
}
