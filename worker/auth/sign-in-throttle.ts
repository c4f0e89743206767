// Asks the SignInThrottle objects whether a password may be checked (worker/auth/sign-in-rules.ts
// says how), and tells them how the check ended. Three objects per attempt, keyed by what they
// count: the client address, the (name, address) pair, and the name. The address and the pair
// are asked together; the name is asked second, because whether it may let an attempt past an
// empty budget depends on the pair's answer (is this address quiet for this name?).
import type { Bindings, WaitUntil } from "../env";
import { addressKey } from "./client-address";
import type { Outcome, Reservation, ThrottleKind } from "./sign-in-rules";

export type SignInAdmission =
  | { admitted: true; /** Reports how the check ended (off the response path). */ settle(outcome: Exclude<Outcome, "unused">): void }
  /** `by`: which count refused, for the audit record (an address refused for every name). */
  | { admitted: false; retryAfterSeconds: number; by: ThrottleKind };

type Reserved = { kind: ThrottleKind; result: Reservation };

export async function admitSignIn(env: Bindings, waitUntil: WaitUntil, name: string, ip: string | null): Promise<SignInAdmission> {
  const address = addressKey(ip);
  const keys: Record<ThrottleKind, string> = { address: `address:${address}`, pair: `pair:${address} ${name}`, name: `name:${name}` };
  const object = (kind: ThrottleKind) => env.SIGN_IN_THROTTLES.get(env.SIGN_IN_THROTTLES.idFromName(keys[kind]));
  const ask = async (kind: ThrottleKind, mayOverdraw = false): Promise<Reserved> => ({ kind, result: await object(kind).reserve(kind, mayOverdraw) });

  const first = await Promise.all([ask("address"), ask("pair")]);
  const pair = first[1].result;
  const reserved = pair.admitted ? [...first, await ask("name", pair.quiet)] : first;
  const settleAll = (outcome: Outcome) => {
    for (const { kind, result } of reserved) {
      if (!result.admitted) continue;
      waitUntil(object(kind).settle(kind, outcome, result.taken).catch((error: unknown) => console.error(`settling a sign-in attempt (${kind}) failed`, error)));
    }
  };
  const refused = reserved.find((entry) => !entry.result.admitted);
  if (refused !== undefined) {
    // What the others reserved was not used: give it back.
    settleAll("unused");
    const retryAfterSeconds = Math.max(...reserved.map(({ result }) => (result.admitted ? 0 : result.retryAfterSeconds)));
    return { admitted: false, retryAfterSeconds, by: refused.kind };
  }
  return { admitted: true, settle: settleAll };
}
