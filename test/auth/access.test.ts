// Which project a repository belongs to (proxied names to their upstream's proxy project), the
// Grant a principal holds there, and the access a token for some scopes may carry.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { accessFor, grantIn, projectFor } from "../../worker/auth/access";
import type { Principal } from "../../worker/auth/principal";
import { parseScopes } from "../../worker/auth/scopes";
import { configFrom, parseConfig } from "../../worker/config";
import { parseRepoName } from "../../worker/oci/names";
import { findProject, setProjectPublic } from "../../worker/storage/db/queries/principals";
import { adminStamp, db, newProject, newUser, stampOf, unique } from "../helpers/identities";
import { REQUIRED_SECRETS } from "../helpers/secrets";

const config = configFrom(env);
const ANONYMOUS: Principal = { kind: "anonymous" };
/** The admin as a password sign-in makes it (its stamp read once its row exists). */
let ADMIN: Principal;
beforeAll(async () => {
  ADMIN = { kind: "user", name: "admin", isAdmin: true, account: await adminStamp() };
});

/** A configuration with one upstream of its own (never contacted), as the mirror default. */
function mirrorConfig() {
  const upstream = unique("mirror");
  const upstreams = JSON.stringify([{ name: upstream, url: "https://upstream.invalid", type: "dockerhub" }]);
  return { upstream, config: parseConfig({ ...REQUIRED_SECRETS, PIER_UPSTREAMS: upstreams, PIER_MIRROR_DEFAULT: upstream }) };
}

function access(principal: Principal, scope: string, withConfig = config) {
  return accessFor(env, withConfig, principal, parseScopes([scope]));
}

describe("projectFor", () => {
  it("puts a prefixed proxy name in its upstream's proxy project, created public", async () => {
    expect(await projectFor(env, config, parseRepoName("hub/library/alpine"))).toEqual({ name: "hub", facts: { kind: "proxy", public: true, restrictedAt: null } });
    expect(await findProject(db, "hub")).toMatchObject({ kind: "proxy", public: true });
  });

  it("keeps a prefixed proxy name in the proxy project for writes too (which are refused there)", async () => {
    expect((await projectFor(env, config, parseRepoName("hub/library/alpine"), "write"))?.name).toBe("hub");
  });

  it("puts a local name in the project of its first segment", async () => {
    const project = await newProject({ public: true });
    expect(await projectFor(env, config, parseRepoName(`${project}/tools/app`))).toEqual({ name: project, facts: { kind: "local", public: true, restrictedAt: null } });
  });

  it("says when a local name's project does not exist", async () => {
    const name = unique("none");
    expect(await projectFor(env, config, parseRepoName(`${name}/app`))).toEqual({ name, facts: null });
  });

  it("puts a one-segment local name in no project", async () => {
    expect(await projectFor(env, config, parseRepoName(unique("alone")))).toBeNull();
  });

  it("reads an unprefixed name from the mirror default's project, and writes it locally", async () => {
    const { upstream, config: mirrored } = mirrorConfig();
    expect((await projectFor(env, mirrored, parseRepoName("library/alpine")))?.name).toBe(upstream);
    expect((await projectFor(env, mirrored, parseRepoName("library/alpine"), "write"))?.name).toBe("library");
  });
});

describe("grantIn", () => {
  it("makes an admin a system admin", async () => {
    expect(await grantIn(env, ADMIN, "anything")).toEqual({ kind: "systemAdmin" });
  });

  it("gives a user their role in the project, or none", async () => {
    const gina = await newUser();
    const project = await newProject({ members: [[gina, "maintainer"]] });
    const user: Principal = { kind: "user", name: gina.username, isAdmin: false, account: await stampOf(gina.username) };
    expect(await grantIn(env, user, project)).toEqual({ kind: "member", role: "maintainer" });
    expect(await grantIn(env, user, unique("other"))).toEqual({ kind: "member", role: null });
  });

  it("gives a robot its permissions in that project only", async () => {
    // A robot as authentication makes it: grantIn reads its grants, nothing of its row.
    const robot: Principal = { kind: "robot", name: "robot$ci", level: "system", grants: [{ project: "a", action: "pull" }, { project: "b", action: "push" }], account: { id: "robot-ci-account", credentialEpoch: 0, accessEpoch: 0 } };
    expect(await grantIn(env, robot, "a")).toEqual({ kind: "robot", permissions: ["pull"] });
  });

  it("keeps anonymous anonymous", async () => {
    expect(await grantIn(env, ANONYMOUS, "team")).toEqual({ kind: "anonymous" });
  });
});

describe("accessFor on a proxied name", () => {
  it("lets anonymous pull hub/library/alpine", async () => {
    expect(await access(ANONYMOUS, "repository:hub/library/alpine:pull")).toEqual([{ type: "repository", name: "hub/library/alpine", actions: ["pull"] }]);
  });

  it("never lets anyone push or delete there, not even the admin", async () => {
    expect(await access(ADMIN, "repository:hub/library/alpine:*")).toEqual([{ type: "repository", name: "hub/library/alpine", actions: ["pull"] }]);
  });

  it("refuses anonymous pulls once the proxy project is made private", async () => {
    const { upstream, config: mirrored } = mirrorConfig();
    await projectFor(env, mirrored, parseRepoName(`${upstream}/library/alpine`));
    await setProjectPublic(db, upstream, false);
    expect(await access(ANONYMOUS, `repository:${upstream}/library/alpine:pull`, mirrored)).toEqual([]);
  });

  it("lets anonymous pull an unprefixed name through the mirror default", async () => {
    const { config: mirrored } = mirrorConfig();
    expect(await access(ANONYMOUS, "repository:library/alpine:pull", mirrored)).toEqual([{ type: "repository", name: "library/alpine", actions: ["pull"] }]);
  });

  it("refuses a mirror pull of a name a private local project would own once pushed", async () => {
    const { config: mirrored } = mirrorConfig();
    const project = await newProject();
    expect(await access(ANONYMOUS, `repository:${project}/app:pull`, mirrored)).toEqual([]);
  });
});

describe("accessFor on a local name", () => {
  it("lets a member with a role pull through the mirror a name of its project", async () => {
    const { config: mirrored } = mirrorConfig();
    const gina = await newUser();
    const project = await newProject({ members: [[gina, "guest"]] });
    const user: Principal = { kind: "user", name: gina.username, isAdmin: false, account: await stampOf(gina.username) };
    expect(await access(user, `repository:${project}/app:pull`, mirrored)).toEqual([{ type: "repository", name: `${project}/app`, actions: ["pull"] }]);
  });

  it("lets a user push to a new project when users may create projects", async () => {
    const open = parseConfig({ ...REQUIRED_SECRETS, PIER_USERS_CREATE_PROJECTS: "true" });
    const gina = await newUser();
    const user: Principal = { kind: "user", name: gina.username, isAdmin: false, account: await stampOf(gina.username) };
    const name = `${unique("new")}/app`;
    expect(await access(user, `repository:${name}:pull,push`, open)).toEqual([{ type: "repository", name, actions: ["pull", "push"] }]);
  });

  it("grants nothing on a one-segment name", async () => {
    expect(await access(ADMIN, `repository:${unique("alone")}:*`)).toEqual([]);
  });
});
