// The Worker's entry point. Durable Object classes are re-exported here so that wrangler can
// bind them (wrangler.toml [[durable_objects.bindings]]).
import { buildApp } from "./app";
import type { Bindings } from "./env";

const app = buildApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Bindings>;

export { UploadSession } from "../durable-objects/upload-session";
