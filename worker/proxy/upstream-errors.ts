// What a client sees when the upstream fails and Pier has nothing cached to answer with.
// Upstream rate limits are passed on as such (with their Retry-After, so clients back off);
// everything else is the gateway's failure, not the client's: 504 when the upstream did not
// answer in time or could not be reached, 502 when it answered with something unusable.
// Like every proxied answer, these say where they come from: `X-Pier-Cache: miss` (upstream
// was asked; nothing cached answered).
import { RegistryError } from "../errors";
import { CACHE_HEADER } from "./cache-stats";
import { describeFailure, type UpstreamFailure } from "./upstream-client";

export function upstreamFailureToError(upstream: string, failure: UpstreamFailure): RegistryError {
  const error = describe(upstream, failure);
  error.headers[CACHE_HEADER] = "miss";
  return error;
}

function describe(upstream: string, failure: UpstreamFailure): RegistryError {
  if (failure.kind === "status" && failure.status === 429) {
    return new RegistryError("TOOMANYREQUESTS", `upstream ${upstream} is rate-limiting Pier; try again later`, {
      headers: failure.retryAfter === null ? {} : { "Retry-After": failure.retryAfter },
    });
  }
  if (failure.kind === "status" && (failure.status === 401 || failure.status === 403)) {
    return new RegistryError("UNKNOWN", `upstream ${upstream} refused Pier's credentials (HTTP ${failure.status}); check its usernameSecret/passwordSecret`, { status: 502 });
  }
  const status = failure.kind === "timeout" || failure.kind === "unreachable" ? 504 : 502;
  return new RegistryError("UNKNOWN", describeFailure(upstream, failure), { status });
}
