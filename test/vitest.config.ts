// Unit and integration tests run inside workerd (miniflare) with real R2, D1, Durable
// Objects and Queues, configured from wrangler.toml, and from nothing else: the pool reads a
// copy of it that has no `.dev.vars` or `.env` beside it (test/helpers/pinned-wrangler-
// config.mjs), so a developer's local settings never reach the tests (lesson 19). The D1
// migrations are handed to a setup file that applies them before each test file.
// The pull-through-cache tests need upstream registries. This pool has no fetchMock, so the
// Worker under test must reach real sockets: fake registries (test/helpers/fake-upstream-
// server.mjs) run in this Node process on 127.0.0.1, and PIER_UPSTREAMS points at them. The
// pool calls the callback below for every worker it starts; the servers start once and are
// shared, and they never keep vitest from exiting.
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { generateSigningKeyJwk } from "../worker/dev/signing-key.mjs";
import { startFakeRemotes } from "./helpers/fake-remote-server.mjs";
import { startFakeUpstreams } from "./helpers/fake-upstream-server.mjs";
import { pinnedWranglerConfig } from "./helpers/pinned-wrangler-config.mjs";
import { startWebhookReceiver } from "./helpers/webhook-receiver-server.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const TEST_ADMIN_PASSWORD = "test-admin-password";
/** One key for the whole run (the callback runs once per test file). */
let signingKey: Promise<string> | undefined;

export default defineConfig({
  plugins: [
    cloudflareTest(async () => {
      const fake = await startFakeUpstreams();
      const webhookReceiver = await startWebhookReceiver();
      // Replication tests create push-capable remote registries through this control origin.
      const remotes = await startFakeRemotes();
      signingKey ??= generateSigningKeyJwk();
      // Short timeouts, so a test of an unreachable or hanging upstream stays fast; "slow" is
      // the one the timeout tests aim a delayMs behaviour at.
      const upstreams = [
        { name: "fake", url: fake.upstreams.fake, type: "oci", tagTtlSeconds: 3600, timeoutMs: 2000 },
        { name: "private", url: fake.upstreams.private, type: "oci", usernameSecret: "FAKE_USER", passwordSecret: "FAKE_PASSWORD", timeoutMs: 2000 },
        { name: "basic", url: fake.upstreams.basic, type: "oci", usernameSecret: "FAKE_USER", passwordSecret: "FAKE_PASSWORD", timeoutMs: 2000 },
        { name: "hub", url: fake.upstreams.hub, type: "dockerhub", allow: ["library/*", "team/**"], tagTtlSeconds: 3600, timeoutMs: 2000 },
        { name: "fresh", url: fake.upstreams.fresh, type: "oci", tagTtlSeconds: 0, timeoutMs: 2000 },
        { name: "slow", url: fake.upstreams.slow, type: "oci", timeoutMs: 300 },
      ];
      return {
        wrangler: { configPath: pinnedWranglerConfig(root) },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: await readD1Migrations(`${root}/migrations`),
            // Small enough that the oversized-body tests stay fast, large enough for the
            // conformance suite's single-request pushes of 3 × OCI-Chunk-Min-Length (8 MiB).
            PIER_MAX_BODY_BYTES: String(25 * 1024 * 1024),
            PIER_UPSTREAMS: JSON.stringify(upstreams),
            // Garbage collection keeps nothing for being recent: a test's GC run sees what the test
            // wrote before it as old (test files have storage of their own, so no other file's
            // pushes are in flight). The grace window itself is tested with its own setting.
            PIER_GC_GRACE_SECONDS: "0",
            // The GC model test's seed (test/model/gc-interleavings.test.ts): random unless set.
            PIER_MODEL_SEED: process.env.PIER_MODEL_SEED ?? "",
            PIER_MODEL_OPERATIONS: process.env.PIER_MODEL_OPERATIONS ?? "",
            // A JSON line per request would bury the test output; test/health/request-log.test.ts turns it on.
            PIER_REQUEST_LOG: "off",
            // Every test acts as admin from one address: the limit is tested with its own rules.
            PIER_RATE_LIMIT_PER_SECOND: "100000",
            // The secrets every Pier needs; tests sign in as admin with TEST_ADMIN_PASSWORD.
            ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
            PIER_SIGNING_KEY: await signingKey,
            // Seals remote registries' credentials and webhook secrets (worker/auth/sealed.ts).
            PIER_CREDENTIALS_KEY: "dGVzdC1jcmVkZW50aWFscy1rZXktMzItYnl0ZXMtISE",
            // The secrets "private" and "basic" name; the fake servers accept exactly these.
            FAKE_USER: "puller",
            FAKE_PASSWORD: "secret",
            // For the helpers in test/helpers/fake-upstream.ts: scripting and redirect target.
            FAKE_UPSTREAM_CONTROL: fake.control,
            FAKE_UPSTREAM_CDN: fake.cdn,
            // The webhook receiver (test/helpers/webhook-receiver.ts): records deliveries, answers as scripted.
            WEBHOOK_RECEIVER: webhookReceiver,
            // For test/helpers/fake-remote.ts: creates and scripts fake remote registries.
            FAKE_REMOTE_CONTROL: remotes.control,
          },
        },
      };
    }),
  ],
  test: {
    root,
    include: ["test/**/*.test.ts"],
    exclude: ["test/e2e/**"],
    setupFiles: ["test/helpers/apply-migrations.ts"],
  },
});
