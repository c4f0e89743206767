// Failed sign-ins are throttled per (name, client address), per address and per name
// (worker/auth/sign-in-rules.ts): TOOMANYREQUESTS with Retry-After, over HTTP. What is counted
// is failures, so the real user, signing in from an address that has not been guessing, is
// never refused because others guessed wrong for that name.
import { beforeAll, describe, expect, it, vi } from "vitest";
import { SIGN_IN_RULES } from "../../worker/auth/sign-in-rules";
import { getToken, type Login, newUser, postToken, unique } from "../helpers/identities";

// Every wrong guess costs a real PBKDF2 (tens of milliseconds here), and a name's budget is a
// hundred of them.
const BUDGET_SPENDING = { timeout: 60_000 };

function wrong(login: Login): Login {
  return { ...login, password: "a wrong guess" };
}

/** A client address of its own for each caller, so that tests never share a budget. */
function address(): Record<string, string> {
  const n = crypto.getRandomValues(new Uint8Array(3));
  return { "CF-Connecting-IP": `10.${n[0]}.${n[1]}.${n[2]}` };
}

/** Spends the (name, address) pair's whole budget on wrong passwords, each answered 401. */
async function exhaustPair(login: Login, from: Record<string, string>): Promise<void> {
  for (let attempt = 0; attempt < SIGN_IN_RULES.pair.capacity; attempt++) {
    expect((await getToken([], wrong(login), from)).status).toBe(401);
  }
}

describe("sign-in throttling of one address", () => {
  it("answers 429 with Retry-After once the address's wrong passwords for a name exceed its budget", async () => {
    const gina = await newUser();
    const from = address();
    await exhaustPair(gina, from);
    const response = await getToken([], wrong(gina), from);
    expect(response.status).toBe(429);
    expect(Number(response.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
    expect(await response.json()).toMatchObject({ errors: [{ code: "TOOMANYREQUESTS" }] });
  });

  it("refuses even the right password from that address until a failure is forgiven", async () => {
    const gina = await newUser();
    const from = address();
    await exhaustPair(gina, from);
    expect((await getToken([], gina, from)).status).toBe(429);
  });

  it("throttles the password grant of POST /token alike", async () => {
    const gina = await newUser();
    const from = address();
    await exhaustPair(gina, from);
    const form = { grant_type: "password", username: gina.username, password: gina.password };
    expect((await postToken(form, from)).status).toBe(429);
  });

  it("counts only failures: a right password gives its attempt back", async () => {
    const gina = await newUser();
    const from = address();
    for (let round = 0; round < 3; round++) {
      for (let attempt = 1; attempt < SIGN_IN_RULES.pair.capacity; attempt++) expect((await getToken([], wrong(gina), from)).status).toBe(401);
      expect((await getToken([], gina, from)).status).toBe(200);
      vi.setSystemTime(Date.now() + 10 * 60_000);
    }
    vi.useRealTimers();
  });

  it("lets a fleet sign in at once with the right password: concurrency alone is never refused", async () => {
    const robot = await newUser();
    const from = address();
    const answers = await Promise.all(Array.from({ length: 3 * SIGN_IN_RULES.pair.capacity }, () => getToken([], robot, from)));
    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
  });

  it("checks no more parallel wrong guesses than the pair's budget", BUDGET_SPENDING, async () => {
    const gina = await newUser();
    const from = address();
    const answers = await Promise.all(Array.from({ length: 3 * SIGN_IN_RULES.pair.capacity }, () => getToken([], wrong(gina), from)));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(SIGN_IN_RULES.pair.capacity + 1);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(2 * SIGN_IN_RULES.pair.capacity - 1);
  });

  it("throttles one address guessing across many names", BUDGET_SPENDING, async () => {
    const from = address();
    // The clock stands still: a hundred PBKDF2s take long enough here for a failure to be forgiven.
    vi.setSystemTime(Date.now());
    try {
      for (let attempt = 0; attempt < SIGN_IN_RULES.address.capacity; attempt++) {
        expect((await getToken([], { username: unique("nobody"), password: "guess" }, from)).status).toBe(401);
      }
      expect((await getToken([], { username: unique("nobody"), password: "guess" }, from)).status).toBe(429);
    } finally {
      vi.useRealTimers();
    }
  });

  it("counts an IPv6 client by its /64: another address in the same /64 is the same client", async () => {
    const gina = await newUser();
    const prefix = `2001:db8:${crypto.getRandomValues(new Uint16Array(1))[0]!.toString(16)}:7`;
    for (let attempt = 0; attempt < SIGN_IN_RULES.pair.capacity; attempt++) {
      expect((await getToken([], wrong(gina), { "CF-Connecting-IP": `${prefix}::${attempt + 1}` })).status).toBe(401);
    }
    expect((await getToken([], wrong(gina), { "CF-Connecting-IP": `${prefix}:0:ffff:1234:5678` })).status).toBe(429);
    // The next /64 is another client.
    expect((await getToken([], gina, { "CF-Connecting-IP": `${prefix.replace(/:7$/, ":8")}::1` })).status).toBe(200);
  });
});

describe("sign-in throttling of one name guessed from many addresses", BUDGET_SPENDING, () => {
  // One attack for the whole block: the name's budget spent from addresses that each stay under
  // their own pair budget. Each test then asks from addresses of its own.
  let gina: Login;
  let guessers: Record<string, string>[];
  beforeAll(async () => {
    gina = await newUser();
    guessers = [];
    const perAddress = SIGN_IN_RULES.pair.capacity / 2;
    while (guessers.length * perAddress < SIGN_IN_RULES.name.capacity) {
      const from = address();
      guessers.push(from);
      for (let attempt = 0; attempt < perAddress; attempt++) expect((await getToken([], wrong(gina), from)).status).toBe(401);
    }
  }, BUDGET_SPENDING.timeout);

  it("refuses an address that has been guessing once the name's budget is spent, though its own is not", async () => {
    expect((await getToken([], wrong(gina), guessers[0])).status).toBe(429);
  });

  it("still signs in the real user from an address that has not been guessing", async () => {
    expect((await getToken([], gina, address())).status).toBe(200);
    expect((await postToken({ grant_type: "password", username: gina.username, password: gina.password }, address())).status).toBe(200);
  });

  it("lets each fresh address one guess, then refuses it", async () => {
    const fresh = address();
    expect((await getToken([], wrong(gina), fresh)).status).toBe(401);
    expect((await getToken([], wrong(gina), fresh)).status).toBe(429);
  });
});

describe("remembered logins", () => {
  it("are not throttled: a client sending Basic on every request pays one check", async () => {
    const gina = await newUser();
    const from = address();
    expect((await getToken([], gina, from)).status).toBe(200);
    await exhaustPair(gina, from);
    expect((await getToken([], wrong(gina), from)).status).toBe(429);
    expect((await getToken([], gina, from)).status).toBe(200);
  });

  it("are checked again when they lapse without spending a sign-in attempt: a busy robot never runs out", async () => {
    const gina = await newUser();
    const from = address();
    expect((await getToken([], gina, from)).status).toBe(200);
    vi.setSystemTime(Date.now() + 11 * 60_000);
    try {
      await exhaustPair(gina, from);
      expect((await getToken([], wrong(gina), from)).status).toBe(429);
      // The remembered login lapsed a minute ago: it is checked again (PBKDF2), not throttled.
      expect((await getToken([], gina, from)).status).toBe(200);
    } finally {
      vi.useRealTimers();
    }
  });
});
