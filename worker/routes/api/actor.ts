// Who is calling the management API: every /api/v1 management request is signed in (Basic or
// Bearer), and the account behind it is what the services decide from. Not applied to the
// cache endpoints (/api/v1/cache) nor to /v2, which decide access their own way.
import type { Context, MiddlewareHandler } from "hono";
import { authenticate, identityOf } from "../../auth/authenticate";
import { principalName } from "../../auth/principal";
import { RegistryError } from "../../errors";
import type { Actor } from "../../services/management/actor";
import { type AppEnv, clientIp, credentialsOf } from "../context";

export interface ApiEnv {
  Bindings: AppEnv["Bindings"];
  Variables: AppEnv["Variables"] & { actor: Actor };
}

export type ApiContext = Context<ApiEnv>;

// Basic, not the registry's Bearer challenge: this API is called with a password or robot
// secret (or a token already in hand), and a browser answers Basic with its own login prompt.
const CHALLENGE = { "WWW-Authenticate": 'Basic realm="Pier"' };

export const requireActor: MiddlewareHandler<ApiEnv> = async (c, next) => {
  const ip = clientIp(c);
  let principal;
  try {
    // Every management request is a change, or reads what only a current account may read:
    // credentials are checked against an account at most a few seconds old (account-state.ts).
    principal = await identityOf(c.env, await authenticate(c.env, c.var.config, credentialsOf(c, "change")), "change");
  } catch (error) {
    if (error instanceof RegistryError && error.code === "UNAUTHORIZED") throw new RegistryError("UNAUTHORIZED", error.message, { headers: CHALLENGE });
    throw error;
  }
  if (principal.kind !== "user" && principal.kind !== "robot") {
    throw new RegistryError("UNAUTHORIZED", "the management API needs credentials (Basic or Bearer)", { headers: CHALLENGE });
  }
  c.set("actor", { principal, ip });
  c.set("principal", principalName(principal));
  await next();
};
