/**
 * `aragora users create|list|reset-password|delete`: accounts from the operator's shell, on the
 * configured store (SQLite in ARAGORA_DATA_DIR, or PostgreSQL when DATABASE_URL is set), while the
 * server runs or not. A password is read from standard input, never from the command line (where
 * `ps` and the shell history would keep it). A running server sees a change within a second.
 *
 * @example
 * printf '%s\n' "$PASSWORD" | aragora users create --email ada@example.com --role owner
 * aragora users list --json
 * aragora users reset-password --email ada@example.com   # prints a one-time token, valid 1 h
 */
import { resolve } from "node:path";
import pino from "pino";
import type { AuditActor, AuditEvent, AuditRecorder } from "../runtime/audit.ts";
import { type Command, EXIT, UsageError } from "../runtime/command.ts";
import { createLogger } from "../runtime/log.ts";
import { type FieldSealer, fieldSealer } from "../runtime/security/field-sealer.ts";
import { openKeySource } from "../runtime/security/key-source.ts";
import { checkPasswordPolicy, hashPassword } from "../runtime/security/password.ts";
import { ORG_ROLES, type OrgRole } from "../runtime/security/rbac.ts";
import { newSecretToken } from "../runtime/security/secret-token.ts";
import { openStore } from "../runtime/store/open.ts";
import type { Store } from "../runtime/store/store.ts";
import { type AccessStore, isUniqueViolation, openAccessStore } from "./access-store.ts";
import { openAuditLog, storeRecorder } from "./audit-log.ts";
import { openMfaStore } from "./mfa-store.ts";

/** The prefix of password reset tokens. */
export const RESET_TOKEN_PREFIX = "ara_reset_";
const RESET_TTL_MS = 3_600_000;
const ACTIONS = ["create", "list", "set-role", "reset-password", "reset-mfa", "delete"] as const;
type Action = (typeof ACTIONS)[number];

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Whoever runs the command: the platform's operator, at the shell (no request, no address). */
const SHELL: AuditActor = { kind: "operator", userId: null };

/** Records what a command did, in the organisation it did it in. */
type RecordChange = (event: Omit<AuditEvent, "actor" | "outcome">) => Promise<void>;

function recorderOf(audit: AuditRecorder): RecordChange {
  return (event) =>
    audit.record({ ...event, actor: SHELL, outcome: "success", detail: { ...event.detail, via: "cli" } });
}

/**
 * The password on standard input: the first line (a terminal, or a pipe such as
 * `printf '%s\n' "$PW" |`), without its line ending.
 */
async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write("password (then Enter): ");
  const text = await Bun.stdin.text();
  const newline = text.indexOf("\n");
  const line = newline === -1 ? text : text.slice(0, newline);
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

function requireEmail(value: unknown): string {
  if (typeof value !== "string" || !EMAIL.test(value))
    throw new UsageError("--email EMAIL is required (an email address)");
  return value.trim().toLowerCase();
}

function requireRole(value: unknown): OrgRole {
  if (typeof value !== "string" || !(ORG_ROLES as readonly string[]).includes(value)) {
    throw new UsageError(`--role is required: one of ${ORG_ROLES.join(", ")}`);
  }
  return value as OrgRole;
}

async function create(access: AccessStore, values: Record<string, unknown>, record: RecordChange): Promise<number> {
  const email = requireEmail(values.email);
  const role = requireRole(values.role);
  const now = new Date();
  const first = await access.ensureFirstOrganisation(now);
  const orgId = typeof values.org === "string" ? values.org : first.orgId;
  if ((await access.organisation(orgId)) === undefined) {
    process.stderr.write(`aragora users create: no organisation ${orgId}\n`);
    return EXIT.failure;
  }
  const password = await readPassword();
  const problem = checkPasswordPolicy(password);
  if (problem !== undefined) {
    process.stderr.write(`aragora users create: the password (standard input) ${problem}\n`);
    return EXIT.failure;
  }
  const name =
    typeof values.name === "string" && values.name.trim() !== "" ? values.name.trim() : (email.split("@")[0] as string);
  try {
    const user = await access.createUser(
      { email, name, passwordHash: await hashPassword(password), isOperator: values.operator === true },
      orgId,
      role,
      now,
    );
    await record({
      action: "member.added",
      orgId,
      target: { type: "user", id: user.id },
      detail: { email, role, operator: user.isOperator },
    });
    process.stdout.write(`${user.id}\n`);
    return EXIT.ok;
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    process.stderr.write(`aragora users create: an account with email ${email} exists already\n`);
    return EXIT.failure;
  }
}

async function list(access: AccessStore, json: boolean): Promise<number> {
  const users = await access.listUsers();
  const rows = users.map((u) => ({
    id: u.id,
    email: u.email,
    name: u.name,
    is_operator: u.isOperator,
    created_at: u.createdAt.toISOString(),
    deleted_at: u.deletedAt?.toISOString() ?? null,
    memberships: u.memberships.map((m) => ({ org_id: m.orgId, role: m.role })),
  }));
  if (json) {
    process.stdout.write(`${JSON.stringify({ users: rows })}\n`);
    return EXIT.ok;
  }
  if (rows.length === 0) {
    process.stdout.write("no accounts\n");
    return EXIT.ok;
  }
  const table = [
    ["ID", "EMAIL", "ROLES", "OPERATOR", "STATE"],
    ...rows.map((r) => [
      r.id,
      r.email,
      r.memberships.map((m) => `${m.role}@${m.org_id}`).join(","),
      r.is_operator ? "yes" : "no",
      r.deleted_at === null ? "active" : `deleted ${r.deleted_at}`,
    ]),
  ];
  const widths = table[0]?.map((_, i) => Math.max(...table.map((row) => (row[i] ?? "").length))) ?? [];
  process.stdout.write(
    `${table
      .map((row) =>
        row
          .map((c, i) => c.padEnd(widths[i] ?? 0))
          .join("  ")
          .trimEnd(),
      )
      .join("\n")}\n`,
  );
  return EXIT.ok;
}

async function setRole(access: AccessStore, values: Record<string, unknown>, record: RecordChange): Promise<number> {
  const email = requireEmail(values.email);
  const role = requireRole(values.role);
  const user = await access.userByEmail(email);
  if (user === undefined || user.deletedAt !== null) {
    process.stderr.write(`aragora users set-role: no account with email ${email}\n`);
    return EXIT.failure;
  }
  const orgId = typeof values.org === "string" ? values.org : (await access.ensureFirstOrganisation(new Date())).orgId;
  const before = await access.setRole(user.id, orgId, role);
  if (before === undefined) {
    process.stderr.write(`aragora users set-role: ${email} is not a member of ${orgId}\n`);
    return EXIT.failure;
  }
  await record({
    action: "member.role_changed",
    orgId,
    target: { type: "user", id: user.id },
    detail: { email, from: before, to: role },
  });
  process.stdout.write(`${user.id} ${before} -> ${role}\n`);
  return EXIT.ok;
}

/** The organisations `userId` belongs to (where what happens to the account is recorded). */
async function orgsOf(access: AccessStore, userId: string): Promise<string[]> {
  return (await access.userState(userId, new Date(), 0)).memberships.map((m) => m.orgId);
}

async function resetPassword(
  access: AccessStore,
  values: Record<string, unknown>,
  record: RecordChange,
): Promise<number> {
  const email = requireEmail(values.email);
  const user = await access.userByEmail(email);
  if (user === undefined || user.deletedAt !== null) {
    process.stderr.write(`aragora users reset-password: no account with email ${email}\n`);
    return EXIT.failure;
  }
  const token = newSecretToken(RESET_TOKEN_PREFIX);
  const now = new Date();
  await access.insertPasswordReset(user.id, token.hash, now, new Date(now.getTime() + RESET_TTL_MS));
  for (const orgId of await orgsOf(access, user.id)) {
    await record({
      action: "auth.password_reset_issued",
      orgId,
      target: { type: "user", id: user.id },
      detail: { email },
    });
  }
  process.stdout.write(`${token.token}\n`);
  process.stderr.write(
    "one-time reset token for the account, valid 1 hour: POST /api/auth/password/reset {reset_token, new_password}\n",
  );
  return EXIT.ok;
}

async function remove(access: AccessStore, values: Record<string, unknown>, record: RecordChange): Promise<number> {
  const email = requireEmail(values.email);
  const user = await access.userByEmail(email);
  const orgs = user === undefined ? [] : await orgsOf(access, user.id);
  if (user === undefined || !(await access.deleteUser(user.id, new Date()))) {
    process.stderr.write(`aragora users delete: no account with email ${email}\n`);
    return EXIT.failure;
  }
  for (const orgId of orgs) {
    await record({
      action: "member.removed",
      orgId,
      target: { type: "user", id: user.id },
      detail: { email, account_deleted: true },
    });
  }
  process.stdout.write(`${user.id}\n`);
  return EXIT.ok;
}

/**
 * Turns a person's MFA off from the shell, for one who lost both the authenticator and the
 * recovery codes (the operator checks who asks, out of band): the authenticator, the recovery
 * codes and waiting sign-in challenges go; the password alone signs in until they enrol again.
 */
async function resetMfa(
  access: AccessStore,
  store: Store,
  sealer: FieldSealer,
  values: Record<string, unknown>,
  record: RecordChange,
): Promise<number> {
  const email = requireEmail(values.email);
  const user = await access.userByEmail(email);
  if (user === undefined || user.deletedAt !== null) {
    process.stderr.write(`aragora users reset-mfa: no account with email ${email}\n`);
    return EXIT.failure;
  }
  const mfa = await openMfaStore(store, sealer);
  try {
    if (!(await mfa.disable(user.id))) {
      process.stderr.write(`aragora users reset-mfa: the account ${email} has no MFA\n`);
      return EXIT.failure;
    }
  } finally {
    await mfa.close();
  }
  for (const orgId of await orgsOf(access, user.id)) {
    await record({ action: "mfa.reset", orgId, target: { type: "user", id: user.id }, detail: { email } });
  }
  process.stdout.write(`${user.id}\n`);
  process.stderr.write("MFA is off for the account: its password alone signs in until it enrols again\n");
  return EXIT.ok;
}

export const usersCommand: Command = {
  name: "users",
  summary: "create, list and delete accounts, change roles; make password reset tokens; turn MFA off",
  usage: "aragora users create|list|set-role|reset-password|reset-mfa|delete [options]",
  options: {
    email: { type: "string", description: "the account's email address" },
    role: {
      type: "string",
      description: `create, set-role: the role in the organisation (${ORG_ROLES.join(", ")})`,
    },
    org: { type: "string", description: "create, set-role: the organisation id (default: the first organisation)" },
    name: { type: "string", description: "create: the display name (default: the email's local part)" },
    operator: { type: "boolean", description: "create: the account is also the platform operator" },
    json: { type: "boolean", description: "list: print machine-readable JSON on stdout" },
  },
  details: [
    "actions:",
    "  create          --email E --role R [--org ID] [--name N] [--operator]; the password is read from",
    "                  standard input (first line); prints the new account's id",
    "  list            every account with its memberships [--json]",
    "  set-role        --email E --role R [--org ID]; the account's role there (applied within a second)",
    "  reset-password  --email E; prints a one-time token, valid 1 hour, for POST /api/auth/password/reset",
    "  reset-mfa       --email E; turns the account's MFA off (a lost authenticator and recovery codes)",
    "  delete          --email E; the account can no longer sign in and its sessions end within a second",
    "",
    "The store is SQLite at $ARAGORA_DATA_DIR/core.db, or PostgreSQL when DATABASE_URL is set.",
    "What changes is recorded in the audit log (GET /api/admin/audit) as done by the operator at the shell.",
  ].join("\n"),
  async run({ values, positionals, config }) {
    const [action, ...extra] = positionals;
    if (action === undefined || !ACTIONS.includes(action as Action)) {
      throw new UsageError(`an action is required: ${ACTIONS.join(", ")}`);
    }
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    const cfg = config();
    // stdout carries the command's answer (an id, a token, JSON); logs go to stderr.
    const log = createLogger(cfg.logLevel === "DEBUG" ? "DEBUG" : "WARNING", pino.destination({ fd: 2, sync: true }));
    let store: Store;
    try {
      store = await openStore(cfg, log);
    } catch (err) {
      process.stderr.write(`aragora users: cannot open the store: ${(err as Error).message}\n`);
      return EXIT.failure;
    }
    const access = await openAccessStore(store);
    const auditLog = await openAuditLog(store);
    const record = recorderOf(storeRecorder(auditLog, log));
    try {
      switch (action as Action) {
        case "create":
          return await create(access, values, record);
        case "list":
          return await list(access, values.json === true);
        case "set-role":
          return await setRole(access, values, record);
        case "reset-password":
          return await resetPassword(access, values, record);
        case "reset-mfa":
          return await resetMfa(
            access,
            store,
            // The server's keys (the key file, or the development key in the data dir), read as it does.
            fieldSealer(openKeySource(cfg, { dataDir: resolve(cfg.dataDir), log, forServer: false }).current),
            values,
            record,
          );
        case "delete":
          return await remove(access, values, record);
      }
    } catch (err) {
      if (err instanceof UsageError) throw err;
      process.stderr.write(`aragora users ${action}: ${(err as Error).message}\n`);
      return EXIT.failure;
    } finally {
      await access.close();
      await auditLog.close();
      await store.close();
    }
  },
};
