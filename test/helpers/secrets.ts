// The secrets every Pier configuration needs (test/vitest.config.ts sets them for the Worker),
// for tests that build a configuration of their own.
import { env } from "cloudflare:test";

export const REQUIRED_SECRETS = { ADMIN_PASSWORD: env.ADMIN_PASSWORD, PIER_SIGNING_KEY: env.PIER_SIGNING_KEY };
