// Repository names and manifest references (OCI distribution spec v1.1, "Pulling manifests"):
//   name      [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
//   tag       [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
//   reference a tag or a digest
// Names are capped at 255 characters, the limit most clients put on host + "/" + name.
import { RegistryError } from "../errors";
import { type Digest, tryParseDigest } from "./digest";

/** A validated repository name. Made only by `parseRepoName`. */
export type RepoName = string & { readonly __brand: "RepoName" };
/** A validated tag. Made only by `parseTag` / `parseReference`. */
export type Tag = string & { readonly __brand: "Tag" };
export type Reference = { kind: "tag"; tag: Tag } | { kind: "digest"; digest: Digest };

const NAME_COMPONENT = "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*";
const NAME_GRAMMAR = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
const TAG_GRAMMAR = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
export const MAX_NAME_LENGTH = 255;

export function tryParseRepoName(text: string): RepoName | null {
  if (text.length === 0 || text.length > MAX_NAME_LENGTH || !NAME_GRAMMAR.test(text)) return null;
  return text as RepoName;
}

export function parseRepoName(text: string): RepoName {
  const name = tryParseRepoName(text);
  if (name === null) {
    throw new RegistryError(
      "NAME_INVALID",
      `invalid repository name "${clip(text)}": lowercase letters, digits and separators (. _ __ -), components joined by "/", at most ${MAX_NAME_LENGTH} characters`,
    );
  }
  return name;
}

export function tryParseTag(text: string): Tag | null {
  return TAG_GRAMMAR.test(text) ? (text as Tag) : null;
}

export function parseTag(text: string): Tag {
  const tag = tryParseTag(text);
  if (tag === null) {
    throw new RegistryError("TAG_INVALID", `invalid tag "${clip(text)}": at most 128 of [a-zA-Z0-9_.-], not starting with "." or "-"`);
  }
  return tag;
}

/**
 * A reference to read or delete: one that is not a valid tag or digest names nothing, so it is
 * unknown (404), which is what the conformance suites expect of GET and HEAD.
 */
export function parseReadReference(text: string): Reference {
  try {
    return parseReference(text);
  } catch {
    throw new RegistryError("MANIFEST_UNKNOWN", `"${clip(text)}" is not a valid tag or digest, so no manifest has it`);
  }
}

/** A manifest reference: a digest when it contains ":", otherwise a tag. */
export function parseReference(text: string): Reference {
  if (text.includes(":")) {
    const digest = tryParseDigest(text);
    if (digest === null) throw new RegistryError("DIGEST_INVALID", `invalid digest reference "${clip(text)}"`);
    return { kind: "digest", digest };
  }
  return { kind: "tag", tag: parseTag(text) };
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
