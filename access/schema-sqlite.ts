/**
 * Identity tables for SQLite: organisations and their workspaces, user accounts and their
 * memberships (one role per organisation), refresh tokens (one family per session), API keys,
 * the one-row first-start record `setup`, one-time password reset tokens, invitations, single-use WebSocket
 * tickets, and the second factor (TOTP authenticators, recovery codes, sign-in challenges).
 * Secrets are stored only as their SHA-256 (runtime/security/secret-token.ts), passwords only as
 * argon2id hashes; the TOTP secret, which must be read back, is the exception (mfaTotp). Keep in
 * agreement with ./schema-postgres.ts.
 *
 * @example
 * import { users } from "./schema-sqlite.ts";
 * db.select().from(users).where(eq(users.email, "ada@example.com"));
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

// Milliseconds since the epoch, like the other tables: comparable as numbers in the sqlite3 shell.
const instant = (name: string) => integer(name, { mode: "timestamp_ms" });

export const organisations = sqliteTable("organisations", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: instant("created_at").notNull(),
  monthlyCostCapUsd: real("monthly_cost_cap_usd"),
});

export const workspaces = sqliteTable(
  "workspaces",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organisations.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    isDefault: integer("is_default", { mode: "boolean" }).notNull(),
    createdAt: instant("created_at").notNull(),
  },
  // One default workspace per organisation: requests without a workspace act in it.
  (t) => [
    index("workspaces_org_idx").on(t.orgId),
    uniqueIndex("workspaces_default_idx").on(t.orgId).where(sql`is_default = 1`),
  ],
);

export const users = sqliteTable("users", {
  id: text("id").primaryKey(),
  /** Lower-cased on the way in, so one address is one account however it is typed. */
  email: text("email").notNull().unique(),
  name: text("name").notNull(),
  /** Null for an account that cannot sign in with a password. */
  passwordHash: text("password_hash"),
  isOperator: integer("is_operator", { mode: "boolean" }).notNull().default(false),
  createdAt: instant("created_at").notNull(),
  /** Set instead of deleting the row, so what the account did keeps its author. */
  deletedAt: instant("deleted_at"),
});

export const memberships = sqliteTable(
  "memberships",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    orgId: text("org_id")
      .notNull()
      .references(() => organisations.id, { onDelete: "cascade" }),
    /** viewer | member | admin | owner (runtime/security/rbac.ts ORG_ROLES). */
    role: text("role").notNull(),
    createdAt: instant("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.orgId] }), index("memberships_org_idx").on(t.orgId)],
);

/**
 * One row per refresh token ever issued. Tokens of one session share a family: rotating marks the
 * old one used and adds the next; a used one presented again revokes the whole family.
 */
export const refreshTokens = sqliteTable(
  "refresh_tokens",
  {
    id: text("id").primaryKey(),
    familyId: text("family_id").notNull(),
    userId: text("user_id").notNull(),
    orgId: text("org_id").notNull(),
    tokenHash: text("token_hash").notNull().unique(),
    createdAt: instant("created_at").notNull(),
    expiresAt: instant("expires_at").notNull(),
    usedAt: instant("used_at"),
    revokedAt: instant("revoked_at"),
    /** How the session was authenticated, a JSON array of RFC 8176 words (`["pwd","otp"]`); every token of the family carries it. */
    amr: text("amr").notNull().default('["pwd"]'),
  },
  (t) => [index("refresh_tokens_family_idx").on(t.familyId), index("refresh_tokens_user_idx").on(t.userId)],
);

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organisations.id, { onDelete: "cascade" }),
    /** The user who made the key; null when the platform operator did. */
    createdBy: text("created_by"),
    name: text("name").notNull(),
    /** The key's first characters (`ara_live_` and four more) and its last four, to recognise it in lists. */
    prefix: text("prefix").notNull(),
    lastFour: text("last_four").notNull(),
    keyHash: text("key_hash").notNull().unique(),
    role: text("role").notNull(),
    /** A JSON array of permissions narrowing the role; empty: the role's every permission. */
    scopes: text("scopes").notNull(),
    /** user: acts as its creator's delegate; service: may speak for users (X-User-ID, X-User-Roles). */
    kind: text("kind").notNull(),
    createdAt: instant("created_at").notNull(),
    lastUsedAt: instant("last_used_at"),
    revokedAt: instant("revoked_at"),
  },
  (t) => [index("api_keys_org_idx").on(t.orgId)],
);

/**
 * The first start, one row (id 1): the first organisation it made, and the one-time token that
 * claims its owner account. The row's primary key is what lets only one node make that
 * organisation when several start at once.
 */
export const setup = sqliteTable("setup", {
  id: integer("id").primaryKey().default(1),
  orgId: text("org_id").notNull(),
  tokenHash: text("token_hash"),
  createdAt: instant("created_at").notNull(),
  claimedAt: instant("claimed_at"),
});

/** One-time password reset tokens (`aragora users reset-password`), valid for an hour. */
export const passwordResets = sqliteTable(
  "password_resets",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull().unique(),
    createdAt: instant("created_at").notNull(),
    expiresAt: instant("expires_at").notNull(),
    usedAt: instant("used_at"),
  },
  (t) => [index("password_resets_user_idx").on(t.userId)],
);

/**
 * Invitations to join an organisation with a role (POST /api/org/invitations): one per invited
 * address, its one-time token stored only as its SHA-256, valid until `expires_at`. Accepting
 * (a sign-up with the token, or a signed-in account) sets `accepted_at` once; revoking sets
 * `revoked_at`. Used, revoked and expired rows are kept: who invited whom stays answerable.
 */
export const invitations = sqliteTable(
  "invitations",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organisations.id, { onDelete: "cascade" }),
    /** Lower-cased: only the account of this address may accept. */
    email: text("email").notNull(),
    /** viewer | member | admin | owner: never above the inviter's own role. */
    role: text("role").notNull(),
    tokenHash: text("token_hash").notNull().unique(),
    /** The user who invited; null when the platform operator did. */
    invitedBy: text("invited_by"),
    createdAt: instant("created_at").notNull(),
    expiresAt: instant("expires_at").notNull(),
    acceptedAt: instant("accepted_at"),
    acceptedBy: text("accepted_by"),
    revokedAt: instant("revoked_at"),
  },
  (t) => [index("invitations_org_idx").on(t.orgId)],
);

/**
 * Single-use tickets for a WebSocket upgrade (a browser cannot set headers on one): the principal
 * that asked for it, as JSON, valid for 30 s. Kept in the database so any node can take it once.
 */
export const wsTickets = sqliteTable(
  "ws_tickets",
  {
    tokenHash: text("token_hash").primaryKey(),
    principal: text("principal").notNull(),
    expiresAt: instant("expires_at").notNull(),
  },
  (t) => [index("ws_tickets_expires_idx").on(t.expiresAt)],
);

/**
 * Sign-ins at OpenID Connect providers (access/oauth/): one row per (issuer, subject), the pair a
 * provider vouches for and never gives to anyone else, linked to one account; an account has at
 * most one identity per issuer. The provider's access and refresh tokens are not kept: signing in
 * needs only who the person is.
 */
export const oauthIdentities = sqliteTable(
  "oauth_identities",
  {
    issuer: text("issuer").notNull(),
    subject: text("subject").notNull(),
    /** The provider's name in the routes (`google`, `oidc`) when the identity was linked. */
    provider: text("provider").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** The email the provider gave when the identity was linked (for support; not used to sign in). */
    email: text("email"),
    createdAt: instant("created_at").notNull(),
    lastSignInAt: instant("last_sign_in_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.issuer, t.subject] }),
    uniqueIndex("oauth_identities_user_issuer_idx").on(t.userId, t.issuer),
  ],
);

/**
 * The audit log (access/audit-log.ts): one hash chain per organisation (`chain` = its id) and one
 * for the platform (`chain` = "platform", `org_id` null). `seq` numbers a chain's entries from 1;
 * the unique (chain, seq) index is what keeps a chain linear when two processes append at once:
 * of two entries claiming the same place, the second insert fails and is retried after the first.
 * `hash` covers `prev_hash` and the entry's canonical JSON (runtime/security/audit-chain.ts), so
 * an entry edited, removed or put in is found by verifying the chain. No foreign keys: an entry
 * outlives the account, key or organisation it names.
 */
export const auditLog = sqliteTable(
  "audit_log",
  {
    id: text("id").primaryKey(),
    chain: text("chain").notNull(),
    seq: integer("seq").notNull(),
    at: instant("at").notNull(),
    orgId: text("org_id"),
    /** `<resource>.<verb>` in the past tense (runtime/audit.ts). */
    action: text("action").notNull(),
    /** success | failure */
    outcome: text("outcome").notNull(),
    /** user | api_key | service | operator | system | anonymous */
    actorKind: text("actor_kind").notNull(),
    actorUserId: text("actor_user_id"),
    actorKeyId: text("actor_key_id"),
    impersonatorId: text("impersonator_id"),
    targetType: text("target_type"),
    targetId: text("target_id"),
    ip: text("ip"),
    requestId: text("request_id"),
    /** A JSON object of small, non-secret facts, or null. */
    detail: text("detail"),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [
    uniqueIndex("audit_log_chain_seq_idx").on(t.chain, t.seq),
    index("audit_log_chain_id_idx").on(t.chain, t.id),
    index("audit_log_actor_idx").on(t.actorUserId),
  ],
);

/**
 * A user's TOTP authenticator (access/mfa-store.ts): pending until a first code confirms it
 * (`enabled_at`), and the time step of the last code accepted, so no code works twice. `secret` is
 * the base32 shared secret sealed with the encryption key (an `_encrypted` envelope; plaintext if it
 * was stored before encryption was configured), written and read only by MfaStore's `startTotp` and `totpOf`.
 */
export const mfaTotp = sqliteTable("mfa_totp", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  secret: text("secret").notNull(),
  createdAt: instant("created_at").notNull(),
  enabledAt: instant("enabled_at"),
  lastStep: integer("last_step"),
});

/** Single-use recovery codes, stored only as SHA-256 of their canonical form (runtime/security/totp.ts). */
export const mfaRecoveryCodes = sqliteTable(
  "mfa_recovery_codes",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    codeHash: text("code_hash").notNull(),
    createdAt: instant("created_at").notNull(),
    usedAt: instant("used_at"),
  },
  (t) => [primaryKey({ columns: [t.userId, t.codeHash] })],
);

/**
 * The second step of a sign-in with MFA: a password that was right gives a challenge (only its
 * SHA-256 is kept), which a code or a recovery code turns into a session within 5 minutes.
 */
export const mfaChallenges = sqliteTable(
  "mfa_challenges",
  {
    tokenHash: text("token_hash").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    orgId: text("org_id").notNull(),
    failures: integer("failures").notNull().default(0),
    expiresAt: instant("expires_at").notNull(),
  },
  (t) => [index("mfa_challenges_expires_idx").on(t.expiresAt)],
);

/**
 * OAuth sign-ins between their start and their callback (access/oauth/pending-store.ts): in the
 * database, so the callback may reach any node. Keyed by the SHA-256 of the `state`; the PKCE code
 * verifier is sealed with the encryption key. Each row is taken once (deleted) and lives minutes.
 */
export const oauthPending = sqliteTable(
  "oauth_pending",
  {
    stateHash: text("state_hash").primaryKey(),
    provider: text("provider").notNull(),
    codeVerifier: text("code_verifier").notNull(),
    nonce: text("nonce").notNull(),
    returnTo: text("return_to").notNull(),
    expiresAt: instant("expires_at").notNull(),
  },
  (t) => [index("oauth_pending_expires_idx").on(t.expiresAt)],
);
