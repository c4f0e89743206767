// Where the CLI finds a user name and password, in the order the brief of issue 12 gives:
// --creds, then PIER_USERNAME/PIER_PASSWORD, then the auth files `docker login`, `podman login`
// and `skopeo login` write (same {"auths": {host: {"auth": base64("user:pass")}}} shape).
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** "user:password" → { username, password } (split at the first colon: passwords may hold colons). */
export function parseCreds(value, where = "--creds") {
  const colon = value.indexOf(":");
  if (colon <= 0) throw new Error(`${where} must be user:password`);
  return { username: value.slice(0, colon), password: value.slice(colon + 1) };
}

/** The auth files to look in, most specific first. */
function authFiles(env) {
  const home = env.HOME ?? homedir();
  const files = [];
  if (env.REGISTRY_AUTH_FILE) files.push(env.REGISTRY_AUTH_FILE);
  files.push(join(env.DOCKER_CONFIG ?? join(home, ".docker"), "config.json"));
  if (env.XDG_RUNTIME_DIR) files.push(join(env.XDG_RUNTIME_DIR, "containers", "auth.json"));
  files.push(join(env.XDG_CONFIG_HOME ?? join(home, ".config"), "containers", "auth.json"));
  return files;
}

/** An auths key ("host", "https://host/v1/", "http://host") → "host". */
function keyHost(key) {
  return key.replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "");
}

/** { username, password } for `host`, or null (anonymous). Throws on what it cannot use. */
export function resolveCredentials(host, { creds = null, env = process.env } = {}) {
  if (creds) return parseCreds(creds);
  if (env.PIER_USERNAME || env.PIER_PASSWORD) {
    if (!env.PIER_USERNAME || !env.PIER_PASSWORD) throw new Error("set both PIER_USERNAME and PIER_PASSWORD, or neither");
    return { username: env.PIER_USERNAME, password: env.PIER_PASSWORD };
  }
  for (const file of authFiles(env)) {
    if (!existsSync(file)) continue;
    let config;
    try {
      config = JSON.parse(readFileSync(file, "utf8"));
    } catch (error) {
      throw new Error(`cannot read ${file}: ${error.message}`);
    }
    const entry = Object.entries(config.auths ?? {}).find(([key]) => keyHost(key) === host)?.[1];
    if (entry?.auth) return parseCreds(Buffer.from(entry.auth, "base64").toString("utf8"), `the "auth" for ${host} in ${file}`);
    if (entry?.username && entry?.password) return { username: entry.username, password: entry.password };
    // Helpers run external programs; we do not, so say so rather than push anonymously.
    const helper = config.credHelpers?.[host] ?? (entry || config.credsStore ? config.credsStore : undefined);
    if (helper && (entry || config.credHelpers?.[host])) {
      throw new Error(`${file} keeps the credentials for ${host} in the credential helper "docker-credential-${helper}", which pier does not support: pass --creds or set PIER_USERNAME/PIER_PASSWORD`);
    }
  }
  return null;
}
