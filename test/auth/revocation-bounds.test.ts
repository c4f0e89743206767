// How soon a change made elsewhere reaches this isolate (issue 9: "refused for push, delete and
// the management API within 10 s at every location, and for pulls within 60 s"). Each isolate
// keeps a copy of the accounts it checks (worker/auth/account-state.ts); a change made through
// another isolate reaches this one only through D1. Here the change is written to D1 directly,
// behind this isolate's back, exactly as another location's write would arrive, and the clock
// is moved to the edge of each bound.
import { afterEach, describe, expect, it, vi } from "vitest";
import { MAX_AGE_MS } from "../../worker/auth/account-state";
import { updateUser } from "../../worker/storage/db/queries/principals";
import { credentialsFor, pullStatus, pushStatus, refreshStatus } from "../helpers/credentials";
import { db } from "../helpers/identities";
import { apiProject, member } from "../helpers/management";
import { pushImage, request } from "../helpers/registry";

afterEach(() => {
  vi.useRealTimers();
});

/** A developer of a project with an image, holding tokens. */
async function developerWithTokens() {
  const project = await apiProject();
  const repository = `${project}/app`;
  await pushImage(repository, "v1");
  const dev = await member(project, "developer");
  return { repository, dev, held: await credentialsFor(dev, repository, "pull,push") };
}

/** Disables the account the way another isolate's PATCH would: one D1 write, nothing forgotten here. */
async function disableElsewhere(username: string): Promise<void> {
  await updateUser(db, username, { disabled: true });
}

describe("a change made at another location", () => {
  it("refuses pushes within 10 s: this isolate's copy lives at most 5 s for a change", async () => {
    const { repository, dev, held } = await developerWithTokens();
    const start = Date.now();
    vi.setSystemTime(start);
    expect(await pushStatus(held.token, repository)).toBe(202);
    await disableElsewhere(dev.username);
    vi.setSystemTime(start + MAX_AGE_MS.change - 1_000);
    expect(await pushStatus(held.token, repository)).toBe(202);
    vi.setSystemTime(start + MAX_AGE_MS.change);
    expect(await pushStatus(held.token, repository)).toBe(401);
    expect(MAX_AGE_MS.change).toBeLessThanOrEqual(10_000);
  });

  it("refuses pulls within 60 s: the copy a pull may use lives at most 30 s", async () => {
    const { repository, dev, held } = await developerWithTokens();
    const start = Date.now();
    vi.setSystemTime(start);
    expect(await pullStatus(held.token, repository)).toBe(200);
    await disableElsewhere(dev.username);
    vi.setSystemTime(start + MAX_AGE_MS.pull - 1_000);
    expect(await pullStatus(held.token, repository)).toBe(200);
    // A push at the same moment already needs a younger copy, and is refused.
    expect(await pushStatus(held.token, repository)).toBe(401);
    vi.setSystemTime(start + MAX_AGE_MS.pull);
    expect(await pullStatus(held.token, repository)).toBe(401);
    expect(MAX_AGE_MS.pull).toBeLessThanOrEqual(60_000);
  });

  it("refuses a refresh token at once, whatever this isolate remembers", async () => {
    const { repository, dev, held } = await developerWithTokens();
    expect(await pullStatus(held.token, repository)).toBe(200);
    await disableElsewhere(dev.username);
    expect(await refreshStatus(held.refreshToken)).toBe(401);
  });

  it("refuses a remembered Basic login for pushes within the same bound", async () => {
    const { repository, dev } = await developerWithTokens();
    const start = Date.now();
    vi.setSystemTime(start);
    const upload = () => request(`/v2/${repository}/blobs/uploads/`, { method: "POST" }, dev);
    expect((await upload()).status).toBe(202);
    await disableElsewhere(dev.username);
    vi.setSystemTime(start + MAX_AGE_MS.change);
    expect((await upload()).status).toBe(401);
  });
});
