// authorize(): whether a registry request may go ahead, for each kind of principal and need,
// and the exact refusal (401 with the challenge that starts the token flow, 404, 403).
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { type Need, authorize } from "../../worker/auth/authorize";
import { loadSigningKey } from "../../worker/auth/signing-key";
import { type AccessEntry, issueToken } from "../../worker/auth/tokens";
import { configFrom, parseConfig } from "../../worker/config";
import { type RepoName, parseRepoName } from "../../worker/oci/names";
import { routeRead } from "../../worker/proxy/routing";
import { findProject, setProjectPublic } from "../../worker/storage/db/queries/principals";
import { ADMIN, adminStamp, basic, db, newProject, newRobot, newUser, refusal, stampOf, unique } from "../helpers/identities";
import { REQUIRED_SECRETS } from "../helpers/secrets";

const URL_ = "http://registry.test/v2/";
const config = configFrom(env);
const PARTIES = { issuer: "http://registry.test", service: "registry.test" };
const REALM = 'realm="http://registry.test/token",service="registry.test"';

/** The decision for one request; what it leaves for after the answer is awaited. */
async function decide(authorization: string | null, need: Need, withConfig = config) {
  const pending: Promise<unknown>[] = [];
  try {
    return await authorize(env, withConfig, { authorization, ip: null, url: URL_, waitUntil: (promise) => void pending.push(promise) }, need);
  } finally {
    await Promise.all(pending);
  }
}

/** A token carrying `access`, issued now to the admin or (by default) to a new user without any role. */
async function bearer(access: AccessEntry[], subject?: "admin"): Promise<string> {
  const key = await loadSigningKey(env.PIER_SIGNING_KEY);
  const login = subject ?? (await newUser()).username;
  const account = login === "admin" ? await adminStamp() : await stampOf(login);
  return `Bearer ${(await issueToken(key, { ...PARTIES, subject: login, account, access })).token}`;
}

async function read(name: string, withConfig = config): Promise<Need> {
  return { kind: "read", name: parseRepoName(name), target: await routeRead(env, withConfig, name, undefined), action: "pull" };
}

/** A configuration with an upstream of its own (never contacted), so its project can be switched. */
function ownUpstream() {
  const upstream = unique("mirror");
  return { upstream, own: parseConfig({ ...REQUIRED_SECRETS, PIER_UPSTREAMS: JSON.stringify([{ name: upstream, url: "https://upstream.invalid", type: "oci" }]) }) };
}

async function privateUpstream() {
  const made = ownUpstream();
  await decide(null, await read(`${made.upstream}/some/app`, made.own), made.own); // creates its project
  await setProjectPublic(db, made.upstream, false);
  return made;
}

function write(name: string, action: "push" | "delete" = "push"): Need {
  return { kind: "write", name: parseRepoName(name), action };
}

describe("GET /v2/ (base)", () => {
  it("answers 401 with the bare Bearer challenge to an anonymous client", async () => {
    const error = await refusal(decide(null, { kind: "base" }));
    expect(error.status).toBe(401);
    expect(error.headers["WWW-Authenticate"]).toBe(`Bearer ${REALM}`);
  });

  it("allows a signed-in user", async () => {
    const user = await newUser();
    expect(await decide(basic(user), { kind: "base" })).toEqual({ principal: { kind: "user", name: user.username, isAdmin: false, account: await stampOf(user.username) }, createProject: null });
  });

  it("allows any valid bearer token, even one granting nothing", async () => {
    expect((await decide(await bearer([]), { kind: "base" })).principal.kind).toBe("token");
  });

  it("lets wrong credentials be refused by authentication (401)", async () => {
    const error = await refusal(decide(basic({ username: "admin", password: "wrong" }), { kind: "base" }));
    expect(error.code).toBe("UNAUTHORIZED");
  });
});

describe("GET /v2/_catalog", () => {
  it("answers 401 with the catalog scope to an anonymous client", async () => {
    const error = await refusal(decide(null, { kind: "catalog" }));
    expect(error.headers["WWW-Authenticate"]).toBe(`Bearer ${REALM},scope="registry:catalog:*"`);
  });

  it("allows a signed-in user", async () => {
    expect((await decide(basic(await newUser()), { kind: "catalog" })).principal.kind).toBe("user");
  });

  it("allows a token granting the catalog", async () => {
    expect((await decide(await bearer([{ type: "registry", name: "catalog", actions: ["*"] }]), { kind: "catalog" })).principal.kind).toBe("token");
  });

  it("refuses a token without the catalog with insufficient_scope", async () => {
    const error = await refusal(decide(await bearer([]), { kind: "catalog" }));
    expect(error.headers["WWW-Authenticate"]).toBe(`Bearer ${REALM},scope="registry:catalog:*",error="insufficient_scope"`);
  });
});

describe("bearer tokens", () => {
  it("allows a pull the token grants, without looking at projects", async () => {
    const name = `${unique("nowhere")}/app`;
    const decision = await decide(await bearer([{ type: "repository", name, actions: ["pull"] }]), await read(name));
    expect(decision.createProject).toBeNull();
  });

  it("refuses a pull token used to push with 401 insufficient_scope and the exact challenge", async () => {
    const project = await newProject({ public: true });
    const name = `${project}/app`;
    const error = await refusal(decide(await bearer([{ type: "repository", name, actions: ["pull"] }]), write(name)));
    expect(error.status).toBe(401);
    expect(error.code).toBe("UNAUTHORIZED");
    expect(error.headers["WWW-Authenticate"]).toBe(`Bearer ${REALM},scope="repository:${name}:pull,push",error="insufficient_scope"`);
  });

  it("refuses a token for repository A used on B", async () => {
    const project = await newProject({ public: true });
    const token = await bearer([{ type: "repository", name: `${project}/a`, actions: ["pull", "push", "delete"] }]);
    const error = await refusal(decide(token, await read(`${project}/b`)));
    expect(error.headers["WWW-Authenticate"]).toBe(`Bearer ${REALM},scope="repository:${project}/b:pull",error="insufficient_scope"`);
  });

  it("checks the name as the client asked, not the routed cache name", async () => {
    const token = await bearer([{ type: "repository", name: "fake/some/app", actions: ["pull"] }]);
    expect((await decide(token, await read("fake/some/app"))).principal.kind).toBe("token");
  });

  it("says which project a granted push creates when it does not exist yet", async () => {
    const project = unique("new");
    const name = `${project}/app`;
    expect((await decide(await bearer([{ type: "repository", name, actions: ["push"] }], "admin"), write(name))).createProject).toBe(project);
  });
});

describe("reads by signed-in users and robots", () => {
  it("allows a member to pull from a private project", async () => {
    const user = await newUser();
    const project = await newProject({ members: [[user, "guest"]] });
    expect((await decide(basic(user), await read(`${project}/app`))).createProject).toBeNull();
  });

  it("answers NAME_UNKNOWN for a private project the user has no role in", async () => {
    const project = await newProject();
    const error = await refusal(decide(basic(await newUser()), await read(`${project}/app`)));
    expect([error.status, error.code]).toEqual([404, "NAME_UNKNOWN"]);
  });

  it("answers NAME_UNKNOWN for a project that does not exist", async () => {
    const error = await refusal(decide(basic(await newUser()), await read(`${unique("none")}/app`)));
    expect(error.code).toBe("NAME_UNKNOWN");
  });

  it("answers NAME_UNKNOWN for a one-segment local name", async () => {
    const error = await refusal(decide(basic(await newUser()), await read(unique("alone"))));
    expect(error.code).toBe("NAME_UNKNOWN");
  });

  it("allows a user without a role to pull from a public project", async () => {
    const project = await newProject({ public: true });
    expect((await decide(basic(await newUser()), await read(`${project}/app`))).principal.kind).toBe("user");
  });

  it("authorises a proxied read against the upstream's proxy project", async () => {
    expect((await decide(basic(await newUser()), await read("fake/some/app"))).principal.kind).toBe("user");
  });

  it("creates the upstream's proxy project, public, on a first read", async () => {
    const { upstream, own } = ownUpstream();
    await decide(null, await read(`${upstream}/some/app`, own), own);
    expect(await findProject(db, upstream)).toMatchObject({ kind: "proxy", public: true });
  });

  it("hides a private proxy project from a user without a role", async () => {
    const { upstream, own } = await privateUpstream();
    expect((await refusal(decide(basic(await newUser()), await read(`${upstream}/some/app`, own), own))).code).toBe("NAME_UNKNOWN");
  });

  it("lets an admin read through a private proxy project", async () => {
    const { upstream, own } = await privateUpstream();
    expect((await decide(basic(ADMIN), await read(`${upstream}/some/app`, own), own)).principal.kind).toBe("user");
  });
});

describe("writes by signed-in users and robots", () => {
  it("refuses a one-segment name with NAME_INVALID", async () => {
    const error = await refusal(decide(basic(ADMIN), write(unique("alone"))));
    expect([error.status, error.code]).toEqual([400, "NAME_INVALID"]);
    expect(error.message).toMatch(/^local repositories are named <project>\/<name>/);
  });

  it("allows a developer to push", async () => {
    const user = await newUser();
    const project = await newProject({ members: [[user, "developer"]] });
    expect(await decide(basic(user), write(`${project}/app`))).toMatchObject({ createProject: null });
  });

  it("answers DENIED to a guest pushing to a project it sees", async () => {
    const user = await newUser();
    const project = await newProject({ members: [[user, "guest"]] });
    const error = await refusal(decide(basic(user), write(`${project}/app`)));
    expect([error.status, error.code]).toEqual([403, "DENIED"]);
  });

  it("answers DENIED to a user without a role pushing to a public project", async () => {
    const project = await newProject({ public: true });
    expect((await refusal(decide(basic(await newUser()), write(`${project}/app`)))).code).toBe("DENIED");
  });

  it("answers NAME_UNKNOWN to a user without a role pushing to a private project", async () => {
    const project = await newProject();
    expect((await refusal(decide(basic(await newUser()), write(`${project}/app`)))).code).toBe("NAME_UNKNOWN");
  });

  it("allows a robot to push where granted", async () => {
    const project = await newProject();
    const robot = await newRobot([{ project, action: "pull" }, { project, action: "push" }]);
    expect((await decide(basic(robot), write(`${project}/app`))).principal.kind).toBe("robot");
  });

  it("answers DENIED to a robot with pull and push deleting", async () => {
    const project = await newProject();
    const robot = await newRobot([{ project, action: "pull" }, { project, action: "push" }]);
    expect((await refusal(decide(basic(robot), write(`${project}/app`, "delete")))).code).toBe("DENIED");
  });

  it("lets an admin's push create a project that does not exist", async () => {
    const project = unique("new");
    expect((await decide(basic(ADMIN), write(`${project}/app`))).createProject).toBe(project);
  });

  it("refuses a plain user's push into a missing project with NAME_UNKNOWN (users may not create projects)", async () => {
    expect((await refusal(decide(basic(await newUser()), write(`${unique("new")}/app`)))).code).toBe("NAME_UNKNOWN");
  });

  it("answers NAME_UNKNOWN to an admin deleting in a missing project", async () => {
    expect((await refusal(decide(basic(ADMIN), write(`${unique("new")}/app`, "delete")))).code).toBe("NAME_UNKNOWN");
  });
});

describe("anonymous clients", () => {
  it("may pull from a public project", async () => {
    const project = await newProject({ public: true });
    expect(await decide(null, await read(`${project}/app`))).toEqual({ principal: { kind: "anonymous" }, createProject: null });
  });

  it("may pull through a public proxy project", async () => {
    expect((await decide(null, await read("fake/some/app"))).principal.kind).toBe("anonymous");
  });

  it("get 401 with the pull scope for a private project", async () => {
    const project = await newProject();
    const error = await refusal(decide(null, await read(`${project}/app`)));
    expect(error.status).toBe(401);
    expect(error.headers["WWW-Authenticate"]).toBe(`Bearer ${REALM},scope="repository:${project}/app:pull"`);
  });

  it("get the same 401 for a project that does not exist", async () => {
    const name = `${unique("none")}/app`;
    const error = await refusal(decide(null, await read(name)));
    expect(error.headers["WWW-Authenticate"]).toBe(`Bearer ${REALM},scope="repository:${name}:pull"`);
  });

  it("get 401 with the push scope for a push, even to a public project", async () => {
    const project = await newProject({ public: true });
    const error = await refusal(decide(null, write(`${project}/app`)));
    expect(error.headers["WWW-Authenticate"]).toBe(`Bearer ${REALM},scope="repository:${project}/app:pull,push"`);
  });

  it("get 401 with the delete scope for a delete in a missing project", async () => {
    const name: RepoName = parseRepoName(`${unique("none")}/app`);
    const error = await refusal(decide(null, write(name, "delete")));
    expect(error.headers["WWW-Authenticate"]).toBe(`Bearer ${REALM},scope="repository:${name}:delete"`);
  });
});
