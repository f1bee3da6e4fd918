/**
 * What the audit log records, and the one method every feature calls to record it. The log itself
 * (a hash-chained table, see security/audit-chain.ts) belongs to the access feature; features get
 * an {@link AuditRecorder} as a typed argument, so an action is recorded where it happens.
 *
 * @example
 * await audit.record({
 *   action: "key.created",
 *   outcome: "success",
 *   actor: actorOf(principal),
 *   orgId: principal.orgId,
 *   target: { type: "api_key", id: key.id },
 *   ip, requestId,
 * });
 */
import { looksSecret, REDACTED } from "./security/secret-patterns.ts";

/** Who did it: a user, a key, the operator token, or the server itself (a scheduler, a playbook). */
export interface AuditActor {
  readonly kind: "user" | "api_key" | "service" | "operator" | "system" | "anonymous";
  /** The user (or key's creator); null for the operator token, the system or an unknown caller. */
  readonly userId: string | null;
  /** The API key used, when one was. */
  readonly keyId?: string;
  /** The real actor when an operator acts as this user (impersonation). */
  readonly impersonatorId?: string;
}

export interface AuditEvent {
  /** `<resource>.<verb>` in the past tense: `auth.signed_in`, `key.revoked`, `member.role_changed`. */
  readonly action: string;
  readonly outcome: "success" | "failure";
  readonly actor: AuditActor;
  /** The organisation it happened in; null for platform-wide actions. */
  readonly orgId: string | null;
  /** What it was done to. */
  readonly target?: { readonly type: string; readonly id: string };
  /** The caller's address, as the request's client address (never a forwarded header from an untrusted hop). */
  readonly ip?: string | null;
  readonly requestId?: string | null;
  /** Small, non-secret facts (an email tried, a role before and after, a reason). Never a secret. */
  readonly detail?: Readonly<Record<string, string | number | boolean | null>>;
}

/**
 * Appends to the audit log; resolves once the entry is stored. A recorder never rejects: an entry
 * it cannot store is logged (with the event) and counted instead, so the action it records is not
 * undone or refused by a failing log.
 */
export interface AuditRecorder {
  record(event: AuditEvent): Promise<void>;
}

/** What {@link actorOf} reads of a request's principal (runtime/http/principal.ts). */
export interface AuditedPrincipal {
  readonly kind: "user" | "api_key" | "service" | "operator";
  readonly userId: string | null;
  readonly keyId?: string;
  readonly actor?: { readonly userId: string };
}

/**
 * The actor of an event done by an authenticated caller: its kind, user, key and, when an
 * operator acts as the user, the real actor.
 *
 * @example await audit.record({ action: "key.revoked", outcome: "success", actor: actorOf(principal), orgId: principal.orgId });
 */
export function actorOf(principal: AuditedPrincipal): AuditActor {
  return {
    kind: principal.kind,
    userId: principal.userId,
    ...(principal.keyId === undefined ? {} : { keyId: principal.keyId }),
    ...(principal.actor === undefined ? {} : { impersonatorId: principal.actor.userId }),
  };
}

/** The actor of an event nobody proved who they are for (a failed sign-in). */
export const ANONYMOUS: AuditActor = Object.freeze({ kind: "anonymous", userId: null });

/** The actor of what the server does by itself (a schedule, a command run from the shell). */
export const SYSTEM: AuditActor = Object.freeze({ kind: "system", userId: null });

/** Detail keys that name a secret, whatever their value. */
const SECRET_KEY = /pass(word|phrase)?|secret|token|credential|api_?key|authorization|cookie|otp|totp/i;
/** Longer strings are cut: a detail is a fact, not a document. */
const MAX_DETAIL_STRING = 256;

/**
 * `detail` as it may be stored: a value under a key that names a secret (`password`, `token`,
 * `secret`, ...) or that looks like one (an `ara_..._` token, a JWT, a bearer header, a URL with
 * a password) becomes {@link REDACTED}, and long strings are cut. The last line of defence: code
 * never puts a secret in a detail, and this keeps a mistake from writing one into a log that is
 * never rewritten.
 *
 * @example scrubDetail({ email: "ada@example.com", password: "hunter2" }) // { email: "ada@example.com", password: "[redacted]" }
 */
export function scrubDetail(detail: AuditEvent["detail"]): Record<string, string | number | boolean | null> | null {
  if (detail === undefined) return null;
  const out: Record<string, string | number | boolean | null> = {};
  for (const [key, value] of Object.entries(detail)) {
    if (typeof value !== "string") {
      out[key] = typeof value === "number" && !Number.isFinite(value) ? null : value;
    } else if (SECRET_KEY.test(key) || looksSecret(value)) {
      out[key] = REDACTED;
    } else {
      out[key] = value.length > MAX_DETAIL_STRING ? `${value.slice(0, MAX_DETAIL_STRING)}...` : value;
    }
  }
  return out;
}

/**
 * A recorder that writes each event as a structured log line (`audit: {...}`): what a process
 * without an audit table (a one-off command) records with.
 *
 * @example const audit = auditToLog(log); await audit.record(event);
 */
export function auditToLog(log: { info(obj: object, msg: string): void }): AuditRecorder {
  return {
    record: async (event) =>
      log.info({ audit: { ...event, detail: scrubDetail(event.detail) } }, `audit: ${event.action} ${event.outcome}`),
  };
}
