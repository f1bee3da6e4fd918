/**
 * Where accounts live: organisations, workspaces, users, memberships, sessions (refresh-token
 * families), API keys, the first-start record, password resets and WebSocket tickets. One
 * repository for both dialects on the Repo (runtime/store/repo.ts), with its own connection
 * (SQLite) or pool (PostgreSQL).
 *
 * Every change that must not happen twice is one conditional statement (`... WHERE used_at IS
 * NULL RETURNING`), so two nodes, or two requests of one node, racing for the same refresh token,
 * setup token, reset token or ticket see exactly one winner.
 *
 * @example
 * const access = await openAccessStore(ctx.store);
 * const first = await access.ensureFirstOrganisation(new Date());
 * const user = await access.userByEmail("ada@example.com");
 */
import { and, asc, eq, gt, gte, inArray, isNull, lte, ne, or, sql } from "drizzle-orm";
import { ORG_ROLES, type OrgRole, type Permission } from "../runtime/security/rbac.ts";
import { dialectTables, type Repo, type RepoDb } from "../runtime/store/repo.ts";
import type { Store } from "../runtime/store/store.ts";
import * as pg from "./schema-postgres.ts";
import * as lite from "./schema-sqlite.ts";

/** The identity tables in each dialect (and the debates column the first start moves). */
export const accessTables = dialectTables({
  sqlite: {
    organisations: lite.organisations,
    workspaces: lite.workspaces,
    users: lite.users,
    memberships: lite.memberships,
    refreshTokens: lite.refreshTokens,
    apiKeys: lite.apiKeys,
    setup: lite.setup,
    passwordResets: lite.passwordResets,
    wsTickets: lite.wsTickets,
    invitations: lite.invitations,
  },
  postgres: {
    organisations: pg.organisations,
    workspaces: pg.workspaces,
    users: pg.users,
    memberships: pg.memberships,
    refreshTokens: pg.refreshTokens,
    apiKeys: pg.apiKeys,
    setup: pg.setup,
    passwordResets: pg.passwordResets,
    wsTickets: pg.wsTickets,
    invitations: pg.invitations,
  },
});

type Tables = typeof accessTables.postgres;
export type OrganisationRow = Tables["organisations"]["$inferSelect"];
export type WorkspaceRow = Tables["workspaces"]["$inferSelect"];
export type UserRow = Tables["users"]["$inferSelect"];
export type RefreshTokenRow = Tables["refreshTokens"]["$inferSelect"];
export type ApiKeyRow = Tables["apiKeys"]["$inferSelect"];
export type SetupRow = Tables["setup"]["$inferSelect"];
export type InvitationRow = Tables["invitations"]["$inferSelect"];

/** A member of an organisation as its owners and admins see one. */
export interface MemberRow {
  userId: string;
  email: string;
  name: string;
  role: OrgRole;
  joinedAt: Date;
}

/** What kind of API key: a user's delegate, or a service that may speak for users. */
export type ApiKeyKind = "user" | "service";

/** One organisation a user belongs to, with the workspace requests act in by default. */
export interface Membership {
  orgId: string;
  role: OrgRole;
  workspaceId: string;
}

/** What the authenticator checks a user's token against, read at most once a second per user. */
export interface UserState {
  /** Undefined when no such user exists. */
  user: UserRow | undefined;
  memberships: Membership[];
  /** Sessions (families) revoked recently enough that access tokens of theirs may still be unexpired. */
  revokedSessions: Set<string>;
}

/** An API key row with its organisation's default workspace. */
export interface KeyRecord {
  key: ApiKeyRow;
  workspaceId: string;
}

/** The outcome of presenting a refresh token. */
export type RotateResult =
  | { status: "rotated"; previous: RefreshTokenRow }
  | { status: "reused"; familyId: string; userId: string; orgId: string }
  | { status: "expired" | "revoked" | "unknown" };

/** A new session's or a rotation's refresh-token row, as the caller made it. */
export interface NewRefreshToken {
  familyId: string;
  userId: string;
  orgId: string;
  tokenHash: string;
  expiresAt: Date;
  /** How the session was authenticated (RFC 8176 words; default `["pwd"]`); rotations keep it. */
  amr?: readonly string[];
}

/** A new user, and the organisation and role they join. */
export interface NewUser {
  email: string;
  name: string;
  passwordHash: string | null;
  isOperator?: boolean;
}

/** Ids with the prefix of what they name, UUIDv7 after it (time-ordered, like debates' `d-`). */
export const newId = {
  organisation: () => `o-${Bun.randomUUIDv7()}`,
  workspace: () => `w-${Bun.randomUUIDv7()}`,
  user: () => `u-${Bun.randomUUIDv7()}`,
  apiKey: () => `k-${Bun.randomUUIDv7()}`,
  refreshToken: () => `rt-${Bun.randomUUIDv7()}`,
  session: () => `s-${Bun.randomUUIDv7()}`,
  passwordReset: () => `pr-${Bun.randomUUIDv7()}`,
  invitation: () => `inv-${Bun.randomUUIDv7()}`,
};

const SETUP_ROW = 1;

/** The error a unique constraint raises, in either driver (email taken, a second first start). */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown; message?: unknown } | null;
  if (e?.code === "23505") return true;
  return typeof e?.code === "string" && e.code.startsWith("SQLITE_CONSTRAINT");
}

/** The access feature's repository. */
export class AccessStore {
  constructor(private readonly repo: Repo<Tables>) {}

  // --- organisations and the first start ---

  /** The first-start record, once a first start has happened. */
  async setupRecord(): Promise<SetupRow | undefined> {
    const { setup } = this.repo.tables;
    const [row] = await this.repo.read((db) => db.select().from(setup).where(eq(setup.id, SETUP_ROW)));
    return row;
  }

  /**
   * The first organisation and its default workspace, made ("Default organisation") on the very
   * first start. The setup row's primary key decides the race when several nodes start at once:
   * the loser's transaction fails whole and it reads the winner's.
   *
   * @example const { orgId, workspaceId } = await access.ensureFirstOrganisation(new Date());
   */
  async ensureFirstOrganisation(now: Date): Promise<{ orgId: string; workspaceId: string; created: boolean }> {
    const existing = await this.setupRecord();
    if (existing)
      return { orgId: existing.orgId, workspaceId: await this.requireWorkspace(existing.orgId), created: false };
    const { organisations, workspaces, setup } = this.repo.tables;
    const orgId = newId.organisation();
    const workspaceId = newId.workspace();
    try {
      await this.repo.transaction((tx) => [
        tx.insert(organisations).values({ id: orgId, name: "Default organisation", createdAt: now }),
        tx
          .insert(workspaces)
          .values({ id: workspaceId, orgId, name: "Default workspace", isDefault: true, createdAt: now }),
        tx.insert(setup).values({ id: SETUP_ROW, orgId, createdAt: now }),
      ]);
      return { orgId, workspaceId, created: true };
    } catch (err) {
      const winner = await this.setupRecord();
      if (!winner) throw err;
      return { orgId: winner.orgId, workspaceId: await this.requireWorkspace(winner.orgId), created: false };
    }
  }

  private async requireWorkspace(orgId: string): Promise<string> {
    const id = await this.defaultWorkspace(orgId);
    if (id === undefined) throw new Error(`organisation ${orgId} has no default workspace`);
    return id;
  }

  /** The default workspace of `orgId`, or undefined when there is no such organisation. */
  async defaultWorkspace(orgId: string): Promise<string | undefined> {
    const { workspaces } = this.repo.tables;
    const [row] = await this.repo.read((db) =>
      db
        .select({ id: workspaces.id })
        .from(workspaces)
        .where(and(eq(workspaces.orgId, orgId), eq(workspaces.isDefault, true))),
    );
    return row?.id;
  }

  async organisation(orgId: string): Promise<OrganisationRow | undefined> {
    const { organisations } = this.repo.tables;
    const [row] = await this.repo.read((db) => db.select().from(organisations).where(eq(organisations.id, orgId)));
    return row;
  }

  async workspace(workspaceId: string): Promise<WorkspaceRow | undefined> {
    const { workspaces } = this.repo.tables;
    const [row] = await this.repo.read((db) => db.select().from(workspaces).where(eq(workspaces.id, workspaceId)));
    return row;
  }

  // --- the setup token ---

  /** Stores the hash of a new setup token unless one is already waiting or setup was claimed; true when stored. */
  async offerSetupToken(tokenHash: string): Promise<boolean> {
    const { setup } = this.repo.tables;
    const rows = await this.repo.write((db) =>
      db
        .update(setup)
        .set({ tokenHash })
        .where(and(eq(setup.id, SETUP_ROW), isNull(setup.tokenHash), isNull(setup.claimedAt)))
        .returning({ id: setup.id }),
    );
    return rows.length > 0;
  }

  /** Takes the setup token whose hash is `tokenHash`, once: false when it was taken or never was. */
  async claimSetup(tokenHash: string, now: Date): Promise<boolean> {
    const { setup } = this.repo.tables;
    const rows = await this.repo.write((db) =>
      db
        .update(setup)
        .set({ claimedAt: now, tokenHash: null })
        .where(and(eq(setup.id, SETUP_ROW), eq(setup.tokenHash, tokenHash), isNull(setup.claimedAt)))
        .returning({ id: setup.id }),
    );
    return rows.length > 0;
  }

  /** Puts back a claimed setup token whose account could not be made, so the owner can try again. */
  async unclaimSetup(tokenHash: string): Promise<void> {
    const { setup } = this.repo.tables;
    await this.repo.write((db) =>
      db.update(setup).set({ claimedAt: null, tokenHash }).where(eq(setup.id, SETUP_ROW)).returning({ id: setup.id }),
    );
  }

  // --- users ---

  /** Whether any account exists (deleted ones included: the server has had an owner). */
  async anyUser(): Promise<boolean> {
    const { users } = this.repo.tables;
    const rows = await this.repo.read((db) => db.select({ id: users.id }).from(users).limit(1));
    return rows.length > 0;
  }

  async user(id: string): Promise<UserRow | undefined> {
    const { users } = this.repo.tables;
    const [row] = await this.repo.read((db) => db.select().from(users).where(eq(users.id, id)));
    return row;
  }

  /** The account of `email` (compared lower-cased), deleted ones included. */
  async userByEmail(email: string): Promise<UserRow | undefined> {
    const { users } = this.repo.tables;
    const [row] = await this.repo.read((db) => db.select().from(users).where(eq(users.email, email.toLowerCase())));
    return row;
  }

  /**
   * A new account, member of `orgId` with `role`. Throws a unique violation
   * ({@link isUniqueViolation}) when the email is taken.
   */
  async createUser(input: NewUser, orgId: string, role: OrgRole, now: Date): Promise<UserRow> {
    const { users, memberships } = this.repo.tables;
    const row: UserRow = {
      id: newId.user(),
      email: input.email.toLowerCase(),
      name: input.name,
      passwordHash: input.passwordHash,
      isOperator: input.isOperator ?? false,
      createdAt: now,
      deletedAt: null,
    };
    await this.repo.transaction((tx) => [
      tx.insert(users).values(row),
      tx.insert(memberships).values({ userId: row.id, orgId, role, createdAt: now }),
    ]);
    return row;
  }

  /** A new account that owns a new organisation (sign-up), in one transaction. */
  async createUserWithOrganisation(
    input: NewUser,
    organisationName: string,
    now: Date,
  ): Promise<{ user: UserRow; orgId: string; workspaceId: string }> {
    const { users, memberships, organisations, workspaces } = this.repo.tables;
    const orgId = newId.organisation();
    const workspaceId = newId.workspace();
    const user: UserRow = {
      id: newId.user(),
      email: input.email.toLowerCase(),
      name: input.name,
      passwordHash: input.passwordHash,
      isOperator: false,
      createdAt: now,
      deletedAt: null,
    };
    await this.repo.transaction((tx) => [
      tx.insert(users).values(user),
      tx.insert(organisations).values({ id: orgId, name: organisationName, createdAt: now }),
      tx
        .insert(workspaces)
        .values({ id: workspaceId, orgId, name: "Default workspace", isDefault: true, createdAt: now }),
      tx.insert(memberships).values({ userId: user.id, orgId, role: "owner", createdAt: now }),
    ]);
    return { user, orgId, workspaceId };
  }

  /** Every account with its memberships, oldest first (for `aragora users list`). */
  async listUsers(): Promise<Array<UserRow & { memberships: { orgId: string; role: string }[] }>> {
    const { users, memberships } = this.repo.tables;
    const [rows, links] = await this.repo.read((db) =>
      Promise.all([
        db.select().from(users).orderBy(asc(users.createdAt), asc(users.id)),
        db.select({ userId: memberships.userId, orgId: memberships.orgId, role: memberships.role }).from(memberships),
      ]),
    );
    return rows.map((u) => ({
      ...u,
      memberships: links.filter((m) => m.userId === u.id).map(({ orgId, role }) => ({ orgId, role })),
    }));
  }

  /**
   * Every organisation with its count of live members, oldest first, at most `limit` (the
   * operator's directory: GET /api/admin/organisations).
   *
   * @example const orgs = await store.organisationDirectory({ limit: 100 }); // [{ id, name, createdAt, members }]
   */
  async organisationDirectory(options: { limit: number }): Promise<Array<OrganisationRow & { members: number }>> {
    const { organisations, memberships, users } = this.repo.tables;
    return this.repo.read(async (db) => {
      const orgs = await db
        .select()
        .from(organisations)
        .orderBy(asc(organisations.createdAt), asc(organisations.id))
        .limit(options.limit);
      if (orgs.length === 0) return [];
      // Counted for this page's organisations only, each on its own (GROUP BY), not over every membership.
      const counts = await db
        .select({ orgId: memberships.orgId, members: sql<number>`count(*)` })
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .where(
          and(
            isNull(users.deletedAt),
            inArray(
              memberships.orgId,
              orgs.map((o) => o.id),
            ),
          ),
        )
        .groupBy(memberships.orgId);
      const byOrg = new Map(counts.map((c) => [c.orgId, Number(c.members)]));
      return orgs.map((o) => ({ ...o, members: byOrg.get(o.id) ?? 0 }));
    });
  }

  /**
   * Live accounts with their memberships (organisation names included), oldest first, at most
   * `limit`; with `orgId`, only that organisation's members (the operator's directory: GET
   * /api/admin/users).
   *
   * @example const people = await store.userDirectory({ orgId: "o-1", limit: 100 });
   */
  async userDirectory(options: {
    orgId?: string;
    limit: number;
  }): Promise<Array<UserRow & { memberships: { orgId: string; orgName: string; role: string }[] }>> {
    const { users, memberships, organisations } = this.repo.tables;
    return this.repo.read(async (db) => {
      const live = isNull(users.deletedAt);
      const rows =
        options.orgId === undefined
          ? await db.select().from(users).where(live).orderBy(asc(users.createdAt), asc(users.id)).limit(options.limit)
          : (
              await db
                .select({ user: users })
                .from(users)
                .innerJoin(memberships, eq(memberships.userId, users.id))
                .where(and(live, eq(memberships.orgId, options.orgId)))
                .orderBy(asc(users.createdAt), asc(users.id))
                .limit(options.limit)
            ).map((r) => r.user);
      if (rows.length === 0) return [];
      const links = await db
        .select({
          userId: memberships.userId,
          orgId: memberships.orgId,
          orgName: organisations.name,
          role: memberships.role,
        })
        .from(memberships)
        .innerJoin(organisations, eq(organisations.id, memberships.orgId))
        .where(
          inArray(
            memberships.userId,
            rows.map((u) => u.id),
          ),
        )
        .orderBy(asc(memberships.createdAt));
      return rows.map((u) => ({
        ...u,
        memberships: links
          .filter((m) => m.userId === u.id)
          .map(({ orgId, orgName, role }) => ({ orgId, orgName, role })),
      }));
    });
  }

  /** What a token of `userId` is checked against: the account, its memberships and recently revoked sessions. */
  async userState(userId: string, now: Date, revokedWithinMs: number): Promise<UserState> {
    const { users, memberships, workspaces, refreshTokens } = this.repo.tables;
    const since = new Date(now.getTime() - revokedWithinMs);
    const [[user], links, revoked] = await this.repo.read((db) =>
      Promise.all([
        db.select().from(users).where(eq(users.id, userId)),
        db
          .select({ orgId: memberships.orgId, role: memberships.role, workspaceId: workspaces.id })
          .from(memberships)
          .innerJoin(workspaces, and(eq(workspaces.orgId, memberships.orgId), eq(workspaces.isDefault, true)))
          .where(eq(memberships.userId, userId))
          .orderBy(asc(memberships.createdAt), asc(memberships.orgId)),
        db
          .selectDistinct({ familyId: refreshTokens.familyId })
          .from(refreshTokens)
          .where(and(eq(refreshTokens.userId, userId), gt(refreshTokens.revokedAt, since))),
      ]),
    );
    return {
      user,
      memberships: links.map((m) => ({ orgId: m.orgId, role: m.role as OrgRole, workspaceId: m.workspaceId })),
      revokedSessions: new Set(revoked.map((r) => r.familyId)),
    };
  }

  /**
   * Gives `userId` the role `role` in `orgId`; the role it had, or undefined when it is no member
   * there. A running server applies it within a second (the authenticator re-reads memberships).
   *
   * @example const before = await access.setRole(user.id, orgId, "admin");
   */
  async setRole(userId: string, orgId: string, role: OrgRole): Promise<OrgRole | undefined> {
    const { memberships } = this.repo.tables;
    const where = and(eq(memberships.userId, userId), eq(memberships.orgId, orgId));
    const [[before]] = await this.repo.transaction((tx) => [
      tx.select({ role: memberships.role }).from(memberships).where(where),
      tx.update(memberships).set({ role }).where(where),
    ]);
    if (before !== undefined) await this.revokeKeysAbove(userId, orgId, role, new Date());
    return before?.role as OrgRole | undefined;
  }

  /** Sets a new password hash and ends every session of the account. */
  async setPassword(userId: string, passwordHash: string, now: Date): Promise<void> {
    const { users, refreshTokens } = this.repo.tables;
    await this.repo.transaction((tx) => [
      tx.update(users).set({ passwordHash }).where(eq(users.id, userId)),
      tx
        .update(refreshTokens)
        .set({ revokedAt: now })
        .where(and(eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt))),
    ]);
  }

  /** Replaces the hash of the same password made with older parameters (sessions go on). */
  async rehashPassword(userId: string, passwordHash: string): Promise<void> {
    const { users } = this.repo.tables;
    await this.repo.write((db) => db.update(users).set({ passwordHash }).where(eq(users.id, userId)));
  }

  /** Marks the account deleted and ends its sessions; false when there was no such live account. */
  async deleteUser(userId: string, now: Date): Promise<boolean> {
    const { users, refreshTokens } = this.repo.tables;
    const [deleted] = await this.repo.transaction((tx) => [
      tx
        .update(users)
        .set({ deletedAt: now })
        .where(and(eq(users.id, userId), isNull(users.deletedAt)))
        .returning({ id: users.id }),
      tx
        .update(refreshTokens)
        .set({ revokedAt: now })
        .where(and(eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt))),
    ]);
    return deleted.length > 0;
  }

  // --- sessions (refresh-token families) ---

  async insertRefreshToken(token: NewRefreshToken, now: Date): Promise<void> {
    const { refreshTokens } = this.repo.tables;
    await this.repo.write((db) =>
      db.insert(refreshTokens).values({
        id: newId.refreshToken(),
        familyId: token.familyId,
        userId: token.userId,
        orgId: token.orgId,
        tokenHash: token.tokenHash,
        expiresAt: token.expiresAt,
        createdAt: now,
        amr: JSON.stringify(token.amr ?? ["pwd"]),
      }),
    );
  }

  /**
   * Presents the refresh token whose hash is `tokenHash`: when it is live, marks it used and stores
   * its successor (`next`) in its family, in one transaction. A used one presented again revokes its
   * whole family (RFC 9700 §4.14.2) and says so.
   *
   * The next token is committed with the mark, so whoever sees the old token used also sees its
   * successor: revoking the family then revokes that too. Of two requests racing with one token,
   * the one whose mark matched nothing stored a successor of its own as well; it revokes the
   * family, its own successor included, and reports the reuse.
   */
  async rotateRefreshToken(
    tokenHash: string,
    now: Date,
    next: Pick<NewRefreshToken, "tokenHash" | "expiresAt">,
  ): Promise<RotateResult> {
    const { refreshTokens } = this.repo.tables;
    const row = await this.refreshToken(tokenHash);
    if (!row) return { status: "unknown" };
    if (row.revokedAt !== null) return { status: "revoked" };
    if (row.usedAt !== null) return this.reused(row, now);
    if (row.expiresAt.getTime() <= now.getTime()) return { status: "expired" };
    const [taken] = await this.repo.transaction((tx) => [
      tx
        .update(refreshTokens)
        .set({ usedAt: now })
        .where(
          and(
            eq(refreshTokens.tokenHash, tokenHash),
            isNull(refreshTokens.usedAt),
            isNull(refreshTokens.revokedAt),
            gt(refreshTokens.expiresAt, now),
          ),
        )
        .returning(),
      tx.insert(refreshTokens).values({
        id: newId.refreshToken(),
        familyId: row.familyId,
        userId: row.userId,
        orgId: row.orgId,
        tokenHash: next.tokenHash,
        expiresAt: next.expiresAt,
        createdAt: now,
        amr: row.amr,
      }),
    ]);
    const previous = taken[0];
    if (previous !== undefined) return { status: "rotated", previous };
    // Another request used or revoked it first: end the family, the successor stored above included.
    return this.reused(row, now);
  }

  private async reused(row: RefreshTokenRow, now: Date): Promise<RotateResult> {
    await this.revokeSession(row.familyId, now);
    return { status: "reused", familyId: row.familyId, userId: row.userId, orgId: row.orgId };
  }

  /** The live refresh token row of `tokenHash` (for sign-out by token), if any. */
  async refreshToken(tokenHash: string): Promise<RefreshTokenRow | undefined> {
    const { refreshTokens } = this.repo.tables;
    const [row] = await this.repo.read((db) =>
      db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, tokenHash)),
    );
    return row;
  }

  /** Revokes every token of a session; returns the user whose session it was, if any token was live. */
  async revokeSession(familyId: string, now: Date): Promise<string | undefined> {
    const { refreshTokens } = this.repo.tables;
    const rows = await this.repo.write((db) =>
      db
        .update(refreshTokens)
        .set({ revokedAt: now })
        .where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)))
        .returning({ userId: refreshTokens.userId }),
    );
    return rows[0]?.userId;
  }

  // --- API keys ---

  async insertApiKey(row: ApiKeyRow): Promise<void> {
    const { apiKeys } = this.repo.tables;
    await this.repo.write((db) => db.insert(apiKeys).values(row));
  }

  /** The key whose hash is `keyHash`, revoked or not, with its organisation's default workspace. */
  async apiKeyByHash(keyHash: string): Promise<KeyRecord | undefined> {
    const { apiKeys, workspaces } = this.repo.tables;
    const [row] = await this.repo.read((db) =>
      db
        .select({ key: apiKeys, workspaceId: workspaces.id })
        .from(apiKeys)
        .innerJoin(workspaces, and(eq(workspaces.orgId, apiKeys.orgId), eq(workspaces.isDefault, true)))
        .where(eq(apiKeys.keyHash, keyHash)),
    );
    return row;
  }

  /** The organisation's keys that are not revoked, newest first. */
  async listApiKeys(orgId: string): Promise<ApiKeyRow[]> {
    const { apiKeys } = this.repo.tables;
    return this.repo.read((db) =>
      db
        .select()
        .from(apiKeys)
        .where(and(eq(apiKeys.orgId, orgId), isNull(apiKeys.revokedAt)))
        .orderBy(sql`${apiKeys.createdAt} desc`, sql`${apiKeys.id} desc`),
    );
  }

  /** Revokes the key `id` of `orgId`; its hash when it was live, undefined when there is no such live key there. */
  async revokeApiKey(id: string, orgId: string, now: Date): Promise<string | undefined> {
    const { apiKeys } = this.repo.tables;
    const [row] = await this.repo.write((db) =>
      db
        .update(apiKeys)
        .set({ revokedAt: now })
        .where(and(eq(apiKeys.id, id), eq(apiKeys.orgId, orgId), isNull(apiKeys.revokedAt)))
        .returning({ keyHash: apiKeys.keyHash }),
    );
    return row?.keyHash;
  }

  /**
   * Revokes, in every organisation, the live API keys created in `[from, to]` and every live
   * session (refresh-token family) that was issued a token in it: what a compromised encryption
   * key or signing secret may have let someone mint. Returns what it revoked; a second call
   * revokes nothing more.
   *
   * @example const { apiKeys, sessions } = await access.revokeIssuedBetween(since, now, now);
   */
  async revokeIssuedBetween(
    from: Date,
    to: Date,
    now: Date,
  ): Promise<{
    apiKeys: { id: string; orgId: string }[];
    sessions: { familyId: string; orgId: string; userId: string }[];
  }> {
    const { apiKeys, refreshTokens } = this.repo.tables;
    const [keys, tokens] = await this.repo.transaction((tx) => [
      tx
        .update(apiKeys)
        .set({ revokedAt: now })
        .where(and(gte(apiKeys.createdAt, from), lte(apiKeys.createdAt, to), isNull(apiKeys.revokedAt)))
        .returning({ id: apiKeys.id, orgId: apiKeys.orgId }),
      tx
        .update(refreshTokens)
        .set({ revokedAt: now })
        .where(
          and(
            isNull(refreshTokens.revokedAt),
            inArray(
              refreshTokens.familyId,
              tx
                .selectDistinct({ familyId: refreshTokens.familyId })
                .from(refreshTokens)
                .where(and(gte(refreshTokens.createdAt, from), lte(refreshTokens.createdAt, to))),
            ),
          ),
        )
        .returning({ familyId: refreshTokens.familyId, orgId: refreshTokens.orgId, userId: refreshTokens.userId }),
    ]);
    const sessions = new Map(tokens.map((t) => [t.familyId, t]));
    return { apiKeys: keys, sessions: [...sessions.values()] };
  }

  async touchApiKey(id: string, at: Date): Promise<void> {
    const { apiKeys } = this.repo.tables;
    await this.repo.write((db) => db.update(apiKeys).set({ lastUsedAt: at }).where(eq(apiKeys.id, id)));
  }

  // --- password resets ---

  async insertPasswordReset(userId: string, tokenHash: string, now: Date, expiresAt: Date): Promise<void> {
    const { passwordResets } = this.repo.tables;
    await this.repo.write((db) =>
      db.insert(passwordResets).values({ id: newId.passwordReset(), userId, tokenHash, createdAt: now, expiresAt }),
    );
  }

  /** Uses the live reset token whose hash is `tokenHash`, once; the account it resets, or undefined. */
  async takePasswordReset(tokenHash: string, now: Date): Promise<string | undefined> {
    const { passwordResets } = this.repo.tables;
    const [row] = await this.repo.write((db) =>
      db
        .update(passwordResets)
        .set({ usedAt: now })
        .where(
          and(
            eq(passwordResets.tokenHash, tokenHash),
            isNull(passwordResets.usedAt),
            gt(passwordResets.expiresAt, now),
          ),
        )
        .returning({ userId: passwordResets.userId }),
    );
    return row?.userId;
  }

  // --- members of an organisation ---

  /** The live accounts that are members of `orgId`, with their roles, first joined first. */
  async members(orgId: string): Promise<MemberRow[]> {
    const { users, memberships } = this.repo.tables;
    const rows = await this.repo.read((db) =>
      db
        .select({
          userId: users.id,
          email: users.email,
          name: users.name,
          role: memberships.role,
          joinedAt: memberships.createdAt,
        })
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .where(and(eq(memberships.orgId, orgId), isNull(users.deletedAt)))
        .orderBy(asc(memberships.createdAt), asc(users.id)),
    );
    return rows.map((r) => ({ ...r, role: r.role as OrgRole }));
  }

  /** The role of live account `userId` in `orgId`, or undefined when it is no member there. */
  async memberRole(userId: string, orgId: string): Promise<OrgRole | undefined> {
    const { users, memberships } = this.repo.tables;
    const [row] = await this.repo.read((db) =>
      db
        .select({ role: memberships.role })
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .where(and(eq(memberships.userId, userId), eq(memberships.orgId, orgId), isNull(users.deletedAt))),
    );
    return row?.role as OrgRole | undefined;
  }

  /** Makes `userId` a member of `orgId` with `role`; false when it is one already. */
  async addMembership(userId: string, orgId: string, role: OrgRole, now: Date): Promise<boolean> {
    const { memberships } = this.repo.tables;
    const rows = await this.repo.write((db) =>
      db
        .insert(memberships)
        .values({ userId, orgId, role, createdAt: now })
        .onConflictDoNothing()
        .returning({ userId: memberships.userId }),
    );
    return rows.length > 0;
  }

  /**
   * The condition that keeps an organisation owned: the membership is not an owner's, or another
   * owner remains. Part of the one statement that changes or removes it, so the check and the
   * change cannot be told apart by a concurrent request on SQLite (one writer).
   */
  private notTheLastOwner(orgId: string) {
    const { memberships, users } = this.repo.tables;
    // Only live accounts own: a deleted account keeps its memberships, but nobody can act as it.
    return or(
      ne(memberships.role, "owner"),
      sql`(SELECT count(*) FROM ${memberships} AS m JOIN ${users} AS u ON u.id = m.user_id WHERE m.org_id = ${orgId} AND m.role = 'owner' AND u.deleted_at IS NULL) > 1`,
    );
  }

  /**
   * Runs `change` (a statement guarded by {@link notTheLastOwner}) so that two of them on one
   * organisation cannot both pass the guard. SQLite has one writer, so the statement alone is
   * enough; on PostgreSQL two transactions under READ COMMITTED would each count the other owner
   * and both demote (leaving none), so the organisation's row is locked first, in one transaction.
   */
  private async ownersLocked<R>(orgId: string, change: (tx: RepoDb) => PromiseLike<R>): Promise<R> {
    if (this.repo.dialect === "sqlite") return this.repo.write(change);
    const { organisations } = this.repo.tables;
    const [, result] = await this.repo.transaction((tx) => [
      tx.select({ id: organisations.id }).from(organisations).where(eq(organisations.id, orgId)).for("update"),
      change(tx),
    ]);
    return result;
  }

  /**
   * Revokes the API keys `userId` made in `orgId` that would act above `role` (every one when
   * `role` is null: no longer a member), service keys too below admin: a key acts with a role no
   * higher than its creator's, so a demotion or a removal takes the keys down with it.
   */
  private async revokeKeysAbove(userId: string, orgId: string, role: OrgRole | null, now: Date): Promise<void> {
    const { apiKeys } = this.repo.tables;
    const rank = role === null ? -1 : ORG_ROLES.indexOf(role);
    const above: string[] = ORG_ROLES.filter((_, i) => i > rank);
    const serviceToo = rank < ORG_ROLES.indexOf("admin");
    if (above.length === 0 && !serviceToo) return;
    const tooHigh = serviceToo
      ? or(inArray(apiKeys.role, above), eq(apiKeys.kind, "service"))
      : inArray(apiKeys.role, above);
    await this.repo.write((db) =>
      db
        .update(apiKeys)
        .set({ revokedAt: now })
        .where(and(eq(apiKeys.createdBy, userId), eq(apiKeys.orgId, orgId), isNull(apiKeys.revokedAt), tooHigh)),
    );
  }

  /**
   * Gives member `userId` of `orgId` the role `role`, unless that would leave the organisation
   * without an owner; false when nothing changed (no such member, or the last owner).
   *
   * @example if (!(await access.changeMemberRole(id, orgId, "member"))) throw lastOwner;
   */
  async changeMemberRole(userId: string, orgId: string, role: OrgRole, now = new Date()): Promise<boolean> {
    const { memberships } = this.repo.tables;
    const mine = and(eq(memberships.userId, userId), eq(memberships.orgId, orgId));
    const rows = await this.ownersLocked(orgId, (tx) =>
      tx
        .update(memberships)
        .set({ role })
        .where(role === "owner" ? mine : and(mine, this.notTheLastOwner(orgId)))
        .returning({ userId: memberships.userId }),
    );
    if (rows.length === 0) return false;
    await this.revokeKeysAbove(userId, orgId, role, now);
    return true;
  }

  /**
   * Ends `userId`'s membership of `orgId` and its sessions there, unless it is the last owner;
   * false when nothing changed (no such member, or the last owner).
   *
   * @example await access.removeMember(id, orgId, new Date());
   */
  async removeMember(userId: string, orgId: string, now: Date): Promise<boolean> {
    const { memberships, refreshTokens } = this.repo.tables;
    const rows = await this.ownersLocked(orgId, (tx) =>
      tx
        .delete(memberships)
        .where(and(eq(memberships.userId, userId), eq(memberships.orgId, orgId), this.notTheLastOwner(orgId)))
        .returning({ userId: memberships.userId }),
    );
    if (rows.length === 0) return false;
    await this.repo.write((db) =>
      db
        .update(refreshTokens)
        .set({ revokedAt: now })
        .where(and(eq(refreshTokens.userId, userId), eq(refreshTokens.orgId, orgId), isNull(refreshTokens.revokedAt))),
    );
    await this.revokeKeysAbove(userId, orgId, null, now);
    return true;
  }

  // --- invitations ---

  async insertInvitation(row: InvitationRow): Promise<void> {
    const { invitations } = this.repo.tables;
    await this.repo.write((db) => db.insert(invitations).values(row));
  }

  /** The invitation whose token hashes to `tokenHash`, in whatever state. */
  async invitationByHash(tokenHash: string): Promise<InvitationRow | undefined> {
    const { invitations } = this.repo.tables;
    const [row] = await this.repo.read((db) =>
      db.select().from(invitations).where(eq(invitations.tokenHash, tokenHash)),
    );
    return row;
  }

  /** `orgId`'s invitations that can still be accepted, newest first. */
  async pendingInvitations(orgId: string, now: Date): Promise<InvitationRow[]> {
    const { invitations } = this.repo.tables;
    return this.repo.read((db) =>
      db
        .select()
        .from(invitations)
        .where(
          and(
            eq(invitations.orgId, orgId),
            isNull(invitations.acceptedAt),
            isNull(invitations.revokedAt),
            gt(invitations.expiresAt, now),
          ),
        )
        .orderBy(sql`${invitations.createdAt} desc`, sql`${invitations.id} desc`),
    );
  }

  /**
   * Takes the pending invitation `id` for `userId`, once: true for the one request that wins (a
   * second acceptance, a revoked or expired invitation: false).
   */
  async takeInvitation(id: string, userId: string, now: Date): Promise<boolean> {
    const { invitations } = this.repo.tables;
    const rows = await this.repo.write((db) =>
      db
        .update(invitations)
        .set({ acceptedAt: now, acceptedBy: userId })
        .where(
          and(
            eq(invitations.id, id),
            isNull(invitations.acceptedAt),
            isNull(invitations.revokedAt),
            gt(invitations.expiresAt, now),
          ),
        )
        .returning({ id: invitations.id }),
    );
    return rows.length > 0;
  }

  /** Puts back an invitation taken for an account that could not be made or joined. */
  async untakeInvitation(id: string): Promise<void> {
    const { invitations } = this.repo.tables;
    await this.repo.write((db) =>
      db.update(invitations).set({ acceptedAt: null, acceptedBy: null }).where(eq(invitations.id, id)),
    );
  }

  /** Names the account a taken invitation made (taken before the account existed). */
  async setInvitationAcceptor(id: string, userId: string): Promise<void> {
    const { invitations } = this.repo.tables;
    await this.repo.write((db) => db.update(invitations).set({ acceptedBy: userId }).where(eq(invitations.id, id)));
  }

  /** Revokes the pending invitation `id` of `orgId`: its row, or undefined when there is no such pending one there. */
  async revokeInvitation(id: string, orgId: string, now: Date): Promise<InvitationRow | undefined> {
    const { invitations } = this.repo.tables;
    const [row] = await this.repo.write((db) =>
      db
        .update(invitations)
        .set({ revokedAt: now })
        .where(
          and(
            eq(invitations.id, id),
            eq(invitations.orgId, orgId),
            isNull(invitations.acceptedAt),
            isNull(invitations.revokedAt),
          ),
        )
        .returning(),
    );
    return row;
  }

  // --- WebSocket tickets ---

  /** Stores a ticket, and drops the expired ones (tickets are few and short-lived). */
  async insertWsTicket(tokenHash: string, principal: string, now: Date, expiresAt: Date): Promise<void> {
    const { wsTickets } = this.repo.tables;
    await this.repo.transaction((tx) => [
      tx.delete(wsTickets).where(lte(wsTickets.expiresAt, now)),
      tx.insert(wsTickets).values({ tokenHash, principal, expiresAt }),
    ]);
  }

  /** Takes the live ticket whose hash is `tokenHash`, once: its principal JSON, or undefined. */
  async takeWsTicket(tokenHash: string, now: Date): Promise<string | undefined> {
    const { wsTickets } = this.repo.tables;
    const [row] = await this.repo.write((db) =>
      db
        .delete(wsTickets)
        .where(and(eq(wsTickets.tokenHash, tokenHash), gt(wsTickets.expiresAt, now)))
        .returning({ principal: wsTickets.principal }),
    );
    return row?.principal;
  }

  close(): Promise<void> {
    return this.repo.close();
  }
}

/** A session's authentication methods from its refresh token's `amr` column (JSON). */
export function parseAmr(json: string): string[] {
  const value: unknown = JSON.parse(json);
  return Array.isArray(value) ? value.filter((m): m is string => typeof m === "string") : [];
}

/** The scopes column's JSON as a list (an empty list: no narrowing). */
export function parseScopes(json: string): Permission[] {
  const value: unknown = JSON.parse(json);
  return Array.isArray(value) ? (value.filter((s) => typeof s === "string") as Permission[]) : [];
}

/**
 * The access store on the server's database (the migrations that create its tables ran when the
 * server opened its store).
 *
 * @example const access = await openAccessStore(ctx.store);
 */
export async function openAccessStore(store: Pick<Store, "openRepo">): Promise<AccessStore> {
  return new AccessStore(await store.openRepo(accessTables, { name: "access", maxConnections: 4 }));
}
