// Repository and tag patterns, with Harbor's (doublestar) meanings, for retention and tag
// immutability rules:
//   **      any characters, "/" included (every repository, every tag)
//   *       any characters but "/"
//   ?       one character but "/"
//   {a,b}   either alternative (no nesting)
// Everything else matches itself. A repository pattern is matched against the name inside the
// project: for "team/app/api", against "app/api".
import { RegistryError } from "../errors";

const MAX_PATTERN_LENGTH = 256;
const compiled = new Map<string, RegExp>();

/** Whether `value` matches `pattern` (throws INVALID_REQUEST for a pattern that is not one). */
export function matchesPattern(pattern: string, value: string): boolean {
  return compile(pattern).test(value);
}

/** Checks a pattern before it is stored: the API refuses what would never match sensibly. */
export function checkPattern(pattern: unknown, field: string): string {
  if (typeof pattern !== "string" || pattern === "" || pattern.length > MAX_PATTERN_LENGTH) {
    throw new RegistryError("INVALID_REQUEST", `${field} must be a pattern of 1 to ${MAX_PATTERN_LENGTH} characters, like "**", "app/*" or "v*"`);
  }
  compile(pattern, field);
  return pattern;
}

/** include/exclude lists: a value is selected when it matches an include and no exclude. */
export interface Selector {
  include: string[];
  exclude: string[];
}

export function selects(selector: Selector, value: string): boolean {
  return selector.include.some((pattern) => matchesPattern(pattern, value)) && !selector.exclude.some((pattern) => matchesPattern(pattern, value));
}

function compile(pattern: string, field = "a pattern"): RegExp {
  const known = compiled.get(pattern);
  if (known !== undefined) return known;
  let source = "";
  let inGroup = false;
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index]!;
    if (char === "*" && pattern[index + 1] === "*") {
      source += ".*";
      index++;
    } else if (char === "*") source += "[^/]*";
    else if (char === "?") source += "[^/]";
    else if (char === "{" && !inGroup) {
      source += "(?:";
      inGroup = true;
    } else if (char === "}" && inGroup) {
      source += ")";
      inGroup = false;
    } else if (char === "," && inGroup) source += "|";
    else source += char.replace(/[\\^$.|+()[\]{}]/g, "\\$&");
  }
  if (inGroup) throw new RegistryError("INVALID_REQUEST", `${field} "${pattern}" opens a "{" it never closes`);
  const regex = new RegExp(`^${source}$`);
  // Bounded like every per-isolate cache (patterns come from a few rules, but from the API).
  if (compiled.size >= 1_000) compiled.clear();
  compiled.set(pattern, regex);
  return regex;
}

/** The project of a local repository: its first segment (local names always have two or more). */
export function projectOf(repository: string): string {
  const slash = repository.indexOf("/");
  return slash === -1 ? repository : repository.slice(0, slash);
}

/** The repository's name inside its project: what repository patterns are matched against. */
export function nameInProject(repository: string): string {
  const slash = repository.indexOf("/");
  return slash === -1 ? repository : repository.slice(slash + 1);
}
