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

/** Appends to the audit log; resolves once the entry is stored. */
export interface AuditRecorder {
  record(event: AuditEvent): Promise<void>;
}

/**
 * A recorder that writes each event as a structured log line (`audit: {...}`): what a process
 * without an audit table (a one-off command) records with.
 *
 * @example const audit = auditToLog(log); await audit.record(event);
 */
export function auditToLog(log: { info(obj: object, msg: string): void }): AuditRecorder {
  return {
    record: async (event) => log.info({ audit: event }, `audit: ${event.action} ${event.outcome}`),
  };
}
