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
import type { ArkErrors } from "arktype";
import type { Config } from "../runtime/config.ts";
import type { Logger } from "../runtime/log.ts";
import type { EncryptedStoresOpener } from "../runtime/security/encrypted-store.ts";
import type { KeyRing } from "../runtime/security/encryption-keys.ts";
import type { KeySource } from "../runtime/security/key-source.ts";
import type { Store } from "../runtime/store/index.ts";

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
  /**
   * The encryption keys configured now, the active one first; undefined when none is. Asked at each
   * use (keys can be reloaded): `db.backup` seals archives with the active key, `db.restore` opens
   * them with whichever key their header names.
   */
  encryptionKeys(): KeyRing | undefined;
  /**
   * Where those keys come from (the key variable, a key file, the development key): its status
   * (kind, path, ids) and `reload()`, which the key rotation calls after it changed the key file so
   * that the process running the step uses the keys it wrote.
   */
  keySource: KeySource;
  /**
   * Revokes the credentials issued in a window (API keys and sessions), when the process running
   * the step was given the access store (the server, `ops run` in process): the emergency key
   * rotation's `auth.revoke_issued`.
   */
  credentials?: CredentialsOpener;
  /** When the run is executed by a running server: its services (HTTP base URL, stores ...). */
  server?: { apiBaseUrl: string };
  /**
   * Opens the stores with encrypted fields (the shell's list), when the process running the step
   * was given it (the server, `ops run` in process): `keys.encrypt_existing` works on them.
   */
  encryptedStores?: EncryptedStoresOpener;
  /** The playbook being run: its name and the commands its `shell_allowlist` permits. */
  playbook: { name: string; shellAllowlist: readonly string[] };
  /** The run's journal so far, oldest first, secrets redacted (incident timelines, audit). */
  timeline(): Promise<TimelineEntry[]>;
  /**
   * Wait until `rule` is satisfied by approvals recorded for this step (`ops approve RUN STEP`);
   * rejects when the signal aborts (step timeout, cancel).
   */
  awaitApprovals(rule: ApprovalRule): Promise<ApprovalRecord[]>;
}

/** What was revoked by {@link IssuedCredentials.revokeIssued}. */
export interface RevokedCredentials {
  /** API keys created in the window that were live. */
  apiKeys: number;
  /** Sessions (refresh-token families) with a token issued in the window that were live. */
  sessions: number;
}

/** The credentials of every organisation, as the key rotation's emergency step sees them. */
export interface IssuedCredentials {
  /**
   * Revokes every live API key created in `[from, to]` and every live session that was issued a
   * token in it, records that in the audit log as `by`, and says how many. Running it again revokes
   * nothing more.
   */
  revokeIssued(window: { from: Date; to: Date }, by: string, reason: string): Promise<RevokedCredentials>;
  close(): Promise<void>;
}

/** Opens {@link IssuedCredentials} on a store (the shell provides it). */
export type CredentialsOpener = (store: Store, log: Logger) => Promise<IssuedCredentials>;

/** One journal line as actions see it. */
export interface TimelineEntry {
  seq: number;
  /** ISO-8601 instant. */
  at: string;
  stepId: string | null;
  kind: string;
  data: Record<string, unknown>;
}

/** Who may approve a gate and how many must. */
export interface ApprovalRule {
  approvers?: readonly string[];
  role?: string;
  minApprovals: number;
}

export interface ApprovalRecord {
  approver: string;
  roles: string[];
  /** ISO-8601 instant. */
  at: string;
}

/** What `ActionDefinition.input` must be: a callable arktype schema producing `I` or errors. */
export type InputSchema<I> = ((data: unknown) => I | ArkErrors) & { expression: string };

export interface ActionDefinition<I = unknown, O extends Record<string, unknown> = Record<string, unknown>> {
  name: string;
  description: string;
  /**
   * arktype schema of `with:` after templating; unknown keys are rejected (`"+": "reject"`).
   * Any arktype `type(...)` fits, including ones that parse (durations to milliseconds).
   */
  input: InputSchema<I>;
  /** Names of outputs this action returns (validation checks `steps.<id>.outputs.<name>` references). */
  outputs: readonly string[];
  /** Outputs whose values are redacted ("***") in the journal, plans and progress. */
  secretOutputs?: readonly string[];
  /**
   * Safe to re-run after a crash mid-step. Non-idempotent in-flight steps pause the run for an operator.
   * A function decides per input (an HTTP GET is, a POST is not).
   */
  idempotent: boolean | ((input: I) => boolean);
  plan(input: I, ctx: ActionContext): Promise<Plan>;
  run(input: I, ctx: ActionContext): Promise<O>;
}
