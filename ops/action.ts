/**
 * The contract every playbook step action implements: `plan` (what it would do, for `--dry-run`,
 * with a diff where it changes files or rows) and `run` (do it, return outputs). Actions are
 * registered by name (`db.backup`, `cleanup.prune`, ...) in ops/actions/index.ts.
 *
 * @example
 * export const dbAnalyze: ActionDefinition<{ database?: string }, { databases: string }> = {
 *   name: "db.analyze",
 *   description: "run ANALYZE on every SQLite database in the data dir",
 *   input: type({ "database?": "string" }),
 *   idempotent: true,
 *   async plan(input, ctx) { return { summary: `ANALYZE ${input.database ?? "all databases"}` }; },
 *   async run(input, ctx) { ...; return { databases: "core.db" }; },
 * };
 */
import type { Type } from "arktype";
import type { Config } from "../runtime/config.ts";
import type { Logger } from "../runtime/log.ts";

export interface PlannedChange {
  /** "create" | "modify" | "delete" | "archive" | "sql" | "http" | "exec" ... */
  kind: string;
  /** A path, a table, a URL. */
  target: string;
  /** A unified diff or a human-readable description of the change. */
  diff?: string;
  bytes?: number;
}

export interface Plan {
  summary: string;
  changes: PlannedChange[];
}

export interface ActionContext {
  config: Config;
  /** Absolute data dir (ARAGORA_DATA_DIR resolved). */
  dataDir: string;
  log: Logger;
  /** Aborted on cancel, step timeout or shutdown; long operations must honour it. */
  signal: AbortSignal;
  runId: string;
  stepId: string;
  /** Progress for long steps (a backup's bytes, a cleanup's files); shown live and journaled. */
  progress(message: string, fraction?: number): void;
  /** When the run is executed by a running server: its services (HTTP base URL, stores ...). */
  server?: { apiBaseUrl: string };
}

export interface ActionDefinition<I = unknown, O extends Record<string, unknown> = Record<string, unknown>> {
  name: string;
  description: string;
  /** arktype schema of `with:` after templating; unknown keys are rejected. */
  input: Type<I>;
  /** Names of outputs this action returns (validation checks `steps.<id>.outputs.<name>` references). */
  outputs: readonly string[];
  /** Safe to re-run after a crash mid-step. Non-idempotent in-flight steps pause the run for an operator. */
  idempotent: boolean;
  plan(input: I, ctx: ActionContext): Promise<Plan>;
  run(input: I, ctx: ActionContext): Promise<O>;
}
