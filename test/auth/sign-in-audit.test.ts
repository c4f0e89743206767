// Failed sign-ins are audited wherever credentials are checked (/token, Basic on /v2 and on the
// management API), counted per (result, name, client address, minute) so that a flood adds a
// row per address and minute, never one per request; names are recorded with control and
// bidirectional characters escaped (issue 9, "Smaller leaks and traps").
import { describe, expect, it, vi } from "vitest";
import { getToken, newUser, unique } from "../helpers/identities";
import { api, auditOf } from "../helpers/management";
import { request } from "../helpers/registry";

function address(): Record<string, string> {
  const n = crypto.getRandomValues(new Uint8Array(3));
  return { "CF-Connecting-IP": `10.${n[0]}.${n[1]}.${n[2]}` };
}

function basicFor(name: string, password = "wrong-password"): Record<string, string> {
  const bytes = new TextEncoder().encode(`${name}:${password}`);
  return { Authorization: `Basic ${btoa(String.fromCharCode(...bytes))}` };
}

describe("failed sign-ins", () => {
  it("are audited from a Basic header on /v2/", async () => {
    const name = unique("user");
    const from = address();
    expect((await request("/v2/", { headers: { ...basicFor(name), ...from } }, null)).status).toBe(401);
    expect(await auditOf({ action: "login", principal: name })).toMatchObject([{ result: "failure", count: 1, ip: from["CF-Connecting-IP"] }]);
  });

  it("are audited from a Basic header on the management API", async () => {
    const name = unique("user");
    expect((await api("/projects", { as: null, headers: basicFor(name) })).status).toBe(401);
    expect(await auditOf({ action: "login", principal: name })).toMatchObject([{ result: "failure", count: 1 }]);
  });

  it("are counted into one record per name, address and minute", async () => {
    const gina = await newUser();
    const [here, there] = [address(), address()];
    for (let attempt = 0; attempt < 4; attempt++) await getToken([], { ...gina, password: "wrong" }, here);
    await getToken([], { ...gina, password: "wrong" }, there);
    const records = await auditOf({ action: "login", principal: gina.username });
    expect(records.map((record) => [record.ip, record.count]).sort()).toEqual([
      [here["CF-Connecting-IP"], 4],
      [there["CF-Connecting-IP"], 1],
    ].sort());
  });

  it("counts sign-ins the throttle refused as denied, and an address refused for every name under *", async () => {
    const from = address();
    const names = Array.from({ length: 101 }, () => unique("nobody"));
    // The clock stands still: a hundred PBKDF2s take long enough here for a failure to be forgiven.
    vi.setSystemTime(Date.now());
    try {
      for (const name of names) await request("/v2/", { headers: { ...basicFor(name), ...from } }, null);
    } finally {
      vi.useRealTimers();
    }
    const denied = await auditOf({ action: "login", principal: "*" });
    expect(denied.filter((record) => record.ip === from["CF-Connecting-IP"])).toMatchObject([{ result: "denied", count: 1 }]);
  }, 60_000);

  it("record a name with NUL, line breaks and bidirectional overrides escaped, never cut or raw", async () => {
    const tried = `evil\u0000admin\nforged line\u202Egnp.exe`;
    const from = address();
    await request("/v2/", { headers: { ...basicFor(tried), ...from } }, null);
    const escaped = "evil\\u{0}admin\\u{a}forged line\\u{202e}gnp.exe";
    expect(await auditOf({ action: "login", principal: escaped })).toMatchObject([{ result: "failure" }]);
  });
});

describe("account names", () => {
  it("refuse control characters, line breaks and bidirectional overrides when created", async () => {
    for (const username of ["bad\u0000name", "bad\nname", "bad\u202ename"]) {
      expect((await api("/users", { body: { username, password: "long-enough-password" } })).status).toBe(400);
    }
    const project = unique("team");
    await api("/projects", { body: { name: project } });
    for (const name of ["ci\u0000x", "ci\nx", "ci\u202ex"]) {
      expect((await api(`/projects/${project}/robots`, { body: { name, permissions: ["pull"] } })).status).toBe(400);
    }
  });
});
