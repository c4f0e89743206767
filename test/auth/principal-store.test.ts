// The identity tables through their query modules: users, projects, members, robots, audit.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { database } from "../../worker/storage/db/client";
import { appendAudit, listAudit } from "../../worker/storage/db/queries/audit";
import { createProject, createUser, findProject, findUser, listMembers, removeMember, roleIn, setMember, setProjectPublic, upsertAdmin } from "../../worker/storage/db/queries/principals";
import { createRobot, deleteRobot, findRobot, listProjectRobots, setRobotDisabled, setRobotSecret } from "../../worker/storage/db/queries/robots";

const db = database(env.DB);
const unique = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

describe("users", () => {
  it("are created once per name", async () => {
    const username = unique("gina");
    expect(await createUser(db, { username, passwordHash: "h1" })).toBe(true);
    expect(await createUser(db, { username, passwordHash: "h2" })).toBe(false);
    expect(await findUser(db, username)).toMatchObject({ username, passwordHash: "h1", isAdmin: false, disabled: false });
  });

  it("include the admin, whose password hash follows ADMIN_PASSWORD", async () => {
    const username = unique("admin");
    await upsertAdmin(db, username, "first");
    await upsertAdmin(db, username, "second");
    expect(await findUser(db, username)).toMatchObject({ passwordHash: "second", isAdmin: true });
  });
});

describe("projects and members", () => {
  it("are created once per name, private unless asked", async () => {
    const name = unique("team");
    expect(await createProject(db, { name, kind: "local", public: false, createdBy: "admin" })).toBe(true);
    expect(await createProject(db, { name, kind: "proxy", public: true, createdBy: null })).toBe(false);
    expect(await findProject(db, name)).toMatchObject({ name, kind: "local", public: false });
    expect(await setProjectPublic(db, name, true)).toBe(true);
    expect((await findProject(db, name))?.public).toBe(true);
  });

  it("give a member one role, which can change and be removed", async () => {
    const project = unique("team");
    await createProject(db, { name: project, kind: "local", public: false, createdBy: null });
    const rules = { keepAnAdmin: false };
    // Each change here only adds to what the member may do: no role is lost.
    expect(await setMember(db, project, "gina", "guest", [], rules)).toBe("done");
    expect(await setMember(db, project, "gina", "developer", [], rules)).toBe("done");
    expect(await setMember(db, project, "ana", "projectAdmin", [], rules)).toBe("done");
    expect(await roleIn(db, project, "gina")).toBe("developer");
    expect(await listMembers(db, project)).toEqual([
      { username: "ana", role: "projectAdmin" },
      { username: "gina", role: "developer" },
    ]);
    expect(await removeMember(db, project, "gina", rules)).toBe("done");
    expect(await roleIn(db, project, "gina")).toBeNull();
    expect(await removeMember(db, project, "gina", rules)).toBe("missing");
  });
});

describe("robots", () => {
  it("keep their explicit permissions, per project", async () => {
    const name = `robot$${unique("team")}+ci`;
    const project = unique("team");
    const created = await createRobot(db, { name, level: "project", secretHash: "s1", expiresAt: null }, [
      { project, action: "pull" },
      { project, action: "push" },
    ]);
    expect(created).toBe(true);
    const robot = await findRobot(db, name);
    expect(robot?.grants).toEqual(expect.arrayContaining([{ project, action: "pull" }, { project, action: "push" }]));
    expect((await listProjectRobots(db, project)).map((row) => row.name)).toEqual([name]);
  });

  it("can be disabled, given a new secret and deleted", async () => {
    const name = `robot$${unique("ci")}`;
    await createRobot(db, { name, level: "system", secretHash: "old", expiresAt: Date.now() + 86_400_000 }, []);
    expect(await createRobot(db, { name, level: "system", secretHash: "again", expiresAt: null }, [])).toBe(false);
    await setRobotDisabled(db, name, true);
    await setRobotSecret(db, name, "new");
    expect(await findRobot(db, name)).toMatchObject({ disabled: true, secretHash: "new" });
    expect(await deleteRobot(db, name)).toBe(true);
    expect(await findRobot(db, name)).toBeNull();
  });
});

describe("the audit log", () => {
  it("lists a project's records newest first, a page at a time", async () => {
    const project = unique("team");
    const records = Array.from({ length: 30 }, (_, index) => ({
      at: 1_000 + index,
      principal: "gina",
      action: index % 2 === 0 ? "pull" : "push",
      resource: `${project}/app:${index}`,
      project,
      result: "success" as const,
      ip: "203.0.113.7",
    }));
    await appendAudit(db, records);
    const first = await listAudit(db, { project }, 10);
    expect(first.map((row) => row.resource)).toEqual(records.slice(20).reverse().map((record) => record.resource));
    const second = await listAudit(db, { project, before: { at: first.at(-1)!.at, id: first.at(-1)!.id } }, 10);
    expect(second[0]!.resource).toBe(`${project}/app:19`);
    expect((await listAudit(db, { project }, 100)).length).toBe(30);
    expect((await listAudit(db, { project, action: "push" }, 100)).length).toBe(15);
  });

  it("orders by time, not by when a record was written: a pull written late lists below later records", async () => {
    const project = unique("team");
    const record = (at: number, resource: string) => ({ at, principal: "gina", action: "pull", resource, project, result: "success" as const, ip: null });
    await appendAudit(db, [record(2_000, "later")]);
    await appendAudit(db, [record(1_000, "earlier, written second"), record(2_000, "same time, written last")]);
    const rows = await listAudit(db, { project }, 10);
    expect(rows.map((row) => row.resource)).toEqual(["same time, written last", "later", "earlier, written second"]);
    const page = await listAudit(db, { project, before: { at: rows[0]!.at, id: rows[0]!.id } }, 10);
    expect(page.map((row) => row.resource)).toEqual(["later", "earlier, written second"]);
  });
});
