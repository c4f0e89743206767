// drizzle-kit turns schema.ts into the SQL migrations under migrations/ (`npm run db:generate`).
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./worker/storage/db/schema.ts",
  out: "./migrations",
});
