// Unit and integration tests run inside workerd (miniflare) with real R2, D1, Durable
// Objects and Queues, configured from wrangler.toml. The D1 migrations are handed to a
// setup file that applies them before each test file.
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = fileURLToPath(new URL("..", import.meta.url));

export default defineConfig({
  plugins: [
    cloudflareTest(async () => ({
      wrangler: { configPath: `${root}/wrangler.toml` },
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: await readD1Migrations(`${root}/migrations`),
          // Small enough that the oversized-body tests stay fast, large enough for the
          // conformance suite's single-request pushes of 3 × OCI-Chunk-Min-Length (8 MiB).
          PIER_MAX_BODY_BYTES: String(25 * 1024 * 1024),
        },
      },
    })),
  ],
  test: {
    root,
    include: ["test/**/*.test.ts"],
    exclude: ["test/e2e/**"],
    setupFiles: ["test/helpers/apply-migrations.ts"],
  },
});
