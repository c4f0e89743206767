// Credentials as clients hold them, for the revocation tests: an access token and a refresh
// token from GET /token (what `docker login` and the pulls after it use), and one probe per
// kind of use (pull, push, delete, refresh, the management API), each answering the status.
import { expect } from "vitest";
import { getToken, type Login, postToken } from "./identities";
import { request } from "./registry";

export interface HeldCredentials {
  /** The access token (Bearer). */
  token: string;
  /** The refresh token `docker login` keeps. */
  refreshToken: string;
}

/** Tokens for `actions` on `repository`, as `login` gets them right now. */
export async function credentialsFor(login: Login, repository: string, actions = "pull,push,delete"): Promise<HeldCredentials> {
  const response = await getToken(
    [
      ["scope", `repository:${repository}:${actions}`],
      ["offline_token", "true"],
    ],
    login,
  );
  const text = await response.text();
  expect(response.status, text).toBe(200);
  const body = JSON.parse(text) as { token: string; refresh_token: string };
  return { token: body.token, refreshToken: body.refresh_token };
}

function bearer(token: string): RequestInit {
  return { headers: { Authorization: `Bearer ${token}` } };
}

/** GET of the repository's tags with the token: 200 while it may pull. */
export async function pullStatus(token: string, repository: string): Promise<number> {
  return (await request(`/v2/${repository}/tags/list`, bearer(token), null)).status;
}

/** The start of a blob upload with the token: 202 while it may push. */
export async function pushStatus(token: string, repository: string): Promise<number> {
  return (await request(`/v2/${repository}/blobs/uploads/`, { ...bearer(token), method: "POST" }, null)).status;
}

/** A manifest DELETE with the token: 202 while it may delete. */
export async function deleteStatus(token: string, repository: string, digest: string): Promise<number> {
  return (await request(`/v2/${repository}/manifests/${digest}`, { ...bearer(token), method: "DELETE" }, null)).status;
}

/** POST /token with the refresh_token grant: 200 while the refresh token works. */
export async function refreshStatus(refreshToken: string): Promise<number> {
  return (await postToken({ grant_type: "refresh_token", refresh_token: refreshToken, scope: "registry:catalog:*" })).status;
}

/** A management API read with the token: 200 while it works. */
export async function apiStatus(token: string, path = "/projects"): Promise<number> {
  return (await request(`/api/v1${path}`, bearer(token), null)).status;
}
