/**
 * Identity tables for PostgreSQL; see ./schema-sqlite.ts for what each holds. Keep the two in
 * agreement (dialectTables in ./access-store.ts refuses to compile when their row types differ).
 *
 * @example
 * import { users } from "./schema-postgres.ts";
 * db.select().from(users).where(eq(users.email, "ada@example.com"));
 */
import { sql } from "drizzle-orm";
import {
  boolean,
  doublePrecision,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";

const instant = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: "date" });

export const organisations = pgTable("organisations", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: instant("created_at").notNull(),
  monthlyCostCapUsd: doublePrecision("monthly_cost_cap_usd"),
});

export const workspaces = pgTable(
  "workspaces",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organisations.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    isDefault: boolean("is_default").notNull(),
    createdAt: instant("created_at").notNull(),
  },
  (t) => [
    index("workspaces_org_idx").on(t.orgId),
    uniqueIndex("workspaces_default_idx").on(t.orgId).where(sql`is_default`),
  ],
);

export const users = pgTable("users", {
  id: text("id").primaryKey(),
  email: text("email").notNull().unique(),
  name: text("name").notNull(),
  passwordHash: text("password_hash"),
  isOperator: boolean("is_operator").notNull().default(false),
  createdAt: instant("created_at").notNull(),
  deletedAt: instant("deleted_at"),
});

export const memberships = pgTable(
  "memberships",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    orgId: text("org_id")
      .notNull()
      .references(() => organisations.id, { onDelete: "cascade" }),
    role: text("role").notNull(),
    createdAt: instant("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.orgId] }), index("memberships_org_idx").on(t.orgId)],
);

export const refreshTokens = pgTable(
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
    amr: text("amr").notNull().default('["pwd"]'),
  },
  (t) => [index("refresh_tokens_family_idx").on(t.familyId), index("refresh_tokens_user_idx").on(t.userId)],
);

export const apiKeys = pgTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organisations.id, { onDelete: "cascade" }),
    createdBy: text("created_by"),
    name: text("name").notNull(),
    prefix: text("prefix").notNull(),
    lastFour: text("last_four").notNull(),
    keyHash: text("key_hash").notNull().unique(),
    role: text("role").notNull(),
    scopes: text("scopes").notNull(),
    kind: text("kind").notNull(),
    createdAt: instant("created_at").notNull(),
    lastUsedAt: instant("last_used_at"),
    revokedAt: instant("revoked_at"),
  },
  (t) => [index("api_keys_org_idx").on(t.orgId)],
);

export const setup = pgTable("setup", {
  id: integer("id").primaryKey().default(1),
  orgId: text("org_id").notNull(),
  tokenHash: text("token_hash"),
  createdAt: instant("created_at").notNull(),
  claimedAt: instant("claimed_at"),
});

export const passwordResets = pgTable(
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

export const invitations = pgTable(
  "invitations",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organisations.id, { onDelete: "cascade" }),
    email: text("email").notNull(),
    role: text("role").notNull(),
    tokenHash: text("token_hash").notNull().unique(),
    invitedBy: text("invited_by"),
    createdAt: instant("created_at").notNull(),
    expiresAt: instant("expires_at").notNull(),
    acceptedAt: instant("accepted_at"),
    acceptedBy: text("accepted_by"),
    revokedAt: instant("revoked_at"),
  },
  (t) => [index("invitations_org_idx").on(t.orgId)],
);

export const wsTickets = pgTable(
  "ws_tickets",
  {
    tokenHash: text("token_hash").primaryKey(),
    principal: text("principal").notNull(),
    expiresAt: instant("expires_at").notNull(),
  },
  (t) => [index("ws_tickets_expires_idx").on(t.expiresAt)],
);

export const oauthIdentities = pgTable(
  "oauth_identities",
  {
    issuer: text("issuer").notNull(),
    subject: text("subject").notNull(),
    provider: text("provider").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
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
/** The audit log; see ./schema-sqlite.ts. */
export const auditLog = pgTable(
  "audit_log",
  {
    id: text("id").primaryKey(),
    chain: text("chain").notNull(),
    seq: integer("seq").notNull(),
    at: instant("at").notNull(),
    orgId: text("org_id"),
    action: text("action").notNull(),
    outcome: text("outcome").notNull(),
    actorKind: text("actor_kind").notNull(),
    actorUserId: text("actor_user_id"),
    actorKeyId: text("actor_key_id"),
    impersonatorId: text("impersonator_id"),
    targetType: text("target_type"),
    targetId: text("target_id"),
    ip: text("ip"),
    requestId: text("request_id"),
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

export const mfaTotp = pgTable("mfa_totp", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  secret: text("secret").notNull(),
  createdAt: instant("created_at").notNull(),
  enabledAt: instant("enabled_at"),
  lastStep: integer("last_step"),
});

export const mfaRecoveryCodes = pgTable(
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

export const mfaChallenges = pgTable(
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

/** OAuth sign-ins between their start and their callback; see ./schema-sqlite.ts. */
export const oauthPending = pgTable(
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
