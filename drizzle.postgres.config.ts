/**
 * drizzle-kit settings for the PostgreSQL store. Generate after a schema change with
 * `drizzle-kit generate --config drizzle.postgres.config.ts --name <what_changed>`, then write the
 * matching `NNNN_<name>.down.sql` by hand beside the generated file (runtime/store/migrator.ts).
 */
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  // Each table group sits with the feature that owns it; migrations cover them all.
  schema: [
    "./runtime/store/nodes-schema-postgres.ts",
    "./actors/debate/debate-schema-postgres.ts",
    "./ops/journal-schema-postgres.ts",
    "./actors/scheduler/schedule-schema-postgres.ts",
    "./access/schema-postgres.ts",
    "./actors/agent/provider-key-schema-postgres.ts",
    "./actors/webhook/webhook-schema-postgres.ts",
    "./actors/integrations/integration-schema-postgres.ts",
    "./runtime/store/leases-schema-postgres.ts",
  ],
  out: "./migrations/postgres",
  strict: true,
  verbose: true,
});
