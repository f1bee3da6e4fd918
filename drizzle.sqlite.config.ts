/**
 * drizzle-kit settings for the embedded SQLite store. Generate after a schema change with
 * `drizzle-kit generate --config drizzle.sqlite.config.ts --name <what_changed>`, then write the
 * matching `NNNN_<name>.down.sql` by hand beside the generated file (runtime/store/migrator.ts).
 */
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  // Each table group sits with the feature that owns it; migrations cover them all.
  schema: [
    "./runtime/store/nodes-schema-sqlite.ts",
    "./actors/debate/debate-schema-sqlite.ts",
    "./ops/journal-schema-sqlite.ts",
    "./actors/scheduler/schedule-schema-sqlite.ts",
    "./access/schema-sqlite.ts",
    "./actors/agent/provider-key-schema-sqlite.ts",
    "./actors/webhook/webhook-schema-sqlite.ts",
    "./actors/integrations/integration-schema-sqlite.ts",
    "./runtime/store/leases-schema-sqlite.ts",
  ],
  out: "./migrations/sqlite",
  strict: true,
  verbose: true,
});
