/**
 * drizzle-kit settings for the PostgreSQL store. Generate after a schema change with
 * `drizzle-kit generate --config drizzle.postgres.config.ts --name <what_changed>`, then write the
 * matching `NNNN_<name>.down.sql` by hand beside the generated file (runtime/store/migrator.ts).
 */
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./runtime/store/schema/postgres/index.ts",
  out: "./migrations/postgres",
  strict: true,
  verbose: true,
});
