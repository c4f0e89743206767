// POST /token reads its form with a 64 KiB bound, before anyone is signed in: an oversized
// form, chunked or not, is 413 and never spends a sign-in attempt of the name it carries (the
// sign-in throttle of worker/auth/sign-in-rules.ts: failures per name and address, per address
// and per name).
import { describe, expect, it } from "vitest";
import { SIGN_IN_RULES } from "../../worker/auth/sign-in-rules";
import { SMALL_BODY_BYTES } from "../../worker/bounded-body";
import { newUser, postToken, unique } from "../helpers/identities";
import { request } from "../helpers/registry";
import { expectTooLarge, lazyBody } from "./body-routes";

function postForm(body: BodyInit, ip: string): Promise<Response> {
  return request("/token", { method: "POST", body, headers: { "Content-Type": "application/x-www-form-urlencoded", "CF-Connecting-IP": ip } }, null);
}

describe("POST /token with an oversized form", () => {
  it("does not spend a sign-in attempt, however many are sent", async () => {
    const gina = await newUser();
    const ip = unique("198.51.100.9");
    // Twice the budget of wrong passwords for one name from one address: read and tried, these
    // would lock gina out of that address.
    const form = `grant_type=password&username=${gina.username}&password=a-wrong-guess&padding=`;
    const refused: Response[] = [];
    for (let attempt = 0; attempt < 2 * SIGN_IN_RULES.pair.capacity; attempt++) refused.push(await postForm(lazyBody(256 * 1024, form).body, ip));
    const response = await postForm(new URLSearchParams({ grant_type: "password", username: gina.username, password: gina.password }).toString(), ip);
    expect(response.status, await response.text()).toBe(200);
    for (const each of refused) await expectTooLarge(each);
  });

  it("answers the registry's 413 body, not OAuth2's, so the limit is named", async () => {
    const response = await postForm(lazyBody().body, unique("198.51.100.10"));
    await expectTooLarge(response);
  });

  it("still takes a form of exactly 64 KiB", async () => {
    const gina = await newUser();
    const fields = new URLSearchParams({ grant_type: "password", username: gina.username, password: gina.password }).toString();
    const form = `${fields}&padding=${"p".repeat(SMALL_BODY_BYTES - fields.length - "&padding=".length)}`;
    expect(form.length).toBe(SMALL_BODY_BYTES);
    expect((await postForm(form, unique("198.51.100.11"))).status).toBe(200);
  });

  it("still answers a small malformed form with OAuth2's 400", async () => {
    const response = await postToken({ grant_type: "password" });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_request" });
  });
});
