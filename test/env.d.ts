// Bindings that exist only under test (see test/vitest.config.ts).
import type { Bindings } from "../worker/env";

declare global {
  namespace Cloudflare {
    interface Env extends Bindings {
      TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
      /** The admin's password under test (test/vitest.config.ts); tests sign in with it. */
      ADMIN_PASSWORD: string;
      PIER_SIGNING_KEY: string;
      /** JSON list of the fake upstreams (test/helpers/fake-upstream-server.mjs). */
      PIER_UPSTREAMS: string;
      /** The secrets the "private" and "basic" upstreams name: puller / secret. */
      FAKE_USER: string;
      FAKE_PASSWORD: string;
      /** Origin of the fake upstreams' control API (test/helpers/fake-upstream.ts). */
      FAKE_UPSTREAM_CONTROL: string;
      /** Origin of the fake CDN that redirectBlobs sends blob GETs to. */
      FAKE_UPSTREAM_CDN: string;
      /** Origin of the fake remote registries' control API (test/helpers/fake-remote.ts). */
      FAKE_REMOTE_CONTROL: string;
      /** Origin of the webhook receiver (test/helpers/webhook-receiver-server.mjs). */
      WEBHOOK_RECEIVER: string;
      /** The GC model test's seed; empty: a random one (printed). */
      PIER_MODEL_SEED: string;
      /** How many operations it runs (default 1,000). */
      PIER_MODEL_OPERATIONS: string;
    }
  }
}
