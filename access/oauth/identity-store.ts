/**
 * Which account an OpenID Connect identity signs in to: the `oauth_identities` table, keyed by
 * (issuer, subject), the only pair a provider promises is stable and never reassigned (OpenID
 * Connect Core §5.7). An email is not such a key: addresses get recycled, and some providers let
 * users type any address. An account has at most one identity per issuer.
 *
 * Its own Repo on the server's store, opened only when a provider is configured. A new account
 * made by a sign-in is one transaction with its organisation, workspace, membership and identity,
 * so two callbacks racing for the same new person make one account: the loser's transaction fails
 * whole on a unique key and it signs in to the winner's.
 *
 * @example
 * const identities = await openIdentityStore(ctx.store);
 * const user = await identities.userOf("https://accounts.google.com", "1078...");
 */
import { and, eq } from "drizzle-orm";
import { dialectTables, type Repo } from "../../runtime/store/repo.ts";
import type { Store } from "../../runtime/store/store.ts";
import { newId, type UserRow } from "../access-store.ts";
import * as pg from "../schema-postgres.ts";
import * as lite from "../schema-sqlite.ts";

/** The identity table, and the account tables a sign-in that makes an account writes with it. */
export const identityTables = dialectTables({
  sqlite: {
    oauthIdentities: lite.oauthIdentities,
    users: lite.users,
    organisations: lite.organisations,
    workspaces: lite.workspaces,
    memberships: lite.memberships,
  },
  postgres: {
    oauthIdentities: pg.oauthIdentities,
    users: pg.users,
    organisations: pg.organisations,
    workspaces: pg.workspaces,
    memberships: pg.memberships,
  },
});

type Tables = typeof identityTables.postgres;
export type OAuthIdentityRow = Tables["oauthIdentities"]["$inferSelect"];

/** What a provider vouched for, as the store keeps it. */
export interface ProviderIdentity {
  issuer: string;
  subject: string;
  /** The provider's name in the routes (`google`, `oidc`). */
  provider: string;
  email: string | null;
}

/** A new account made by a sign-in: it owns a new organisation, as a password sign-up's does. */
export interface NewOAuthAccount {
  email: string;
  name: string;
  organisationName: string;
}

export class IdentityStore {
  constructor(private readonly repo: Repo<Tables>) {}

  /**
   * The account `(issuer, subject)` is linked to (deleted ones included: the caller refuses those),
   * or undefined when this identity has never signed in.
   *
   * @example const user = await identities.userOf(identity.issuer, identity.subject);
   */
  async userOf(issuer: string, subject: string): Promise<UserRow | undefined> {
    const { oauthIdentities, users } = this.repo.tables;
    const [row] = await this.repo.read((db) =>
      db
        .select({ user: users })
        .from(oauthIdentities)
        .innerJoin(users, eq(users.id, oauthIdentities.userId))
        .where(and(eq(oauthIdentities.issuer, issuer), eq(oauthIdentities.subject, subject))),
    );
    return row?.user;
  }

  /** The identity `userId` has at `issuer`, if any (an account has at most one per issuer). */
  async identityOf(userId: string, issuer: string): Promise<OAuthIdentityRow | undefined> {
    const { oauthIdentities } = this.repo.tables;
    const [row] = await this.repo.read((db) =>
      db
        .select()
        .from(oauthIdentities)
        .where(and(eq(oauthIdentities.userId, userId), eq(oauthIdentities.issuer, issuer))),
    );
    return row;
  }

  /**
   * Links `identity` to the existing account `userId`. Throws a unique violation
   * (access-store.ts `isUniqueViolation`) when the identity is linked already, or the account
   * already has another identity at this issuer.
   */
  async link(identity: ProviderIdentity, userId: string, now: Date): Promise<void> {
    const { oauthIdentities } = this.repo.tables;
    await this.repo.write((db) =>
      db.insert(oauthIdentities).values({ ...identity, userId, createdAt: now, lastSignInAt: now }),
    );
  }

  /**
   * A new account for `identity`, owner of a new organisation with its default workspace, in one
   * transaction. Throws a unique violation when the email is taken or the identity is linked
   * already (another callback won a race).
   */
  async createAccount(identity: ProviderIdentity, account: NewOAuthAccount, now: Date): Promise<UserRow> {
    const { oauthIdentities, users, organisations, workspaces, memberships } = this.repo.tables;
    const orgId = newId.organisation();
    const workspaceId = newId.workspace();
    const user: UserRow = {
      id: newId.user(),
      email: account.email.toLowerCase(),
      name: account.name,
      // No password: the account signs in through its provider until one is set by a reset.
      passwordHash: null,
      isOperator: false,
      createdAt: now,
      deletedAt: null,
    };
    await this.repo.transaction((tx) => [
      tx.insert(users).values(user),
      tx.insert(organisations).values({ id: orgId, name: account.organisationName, createdAt: now }),
      tx
        .insert(workspaces)
        .values({ id: workspaceId, orgId, name: "Default workspace", isDefault: true, createdAt: now }),
      tx.insert(memberships).values({ userId: user.id, orgId, role: "owner", createdAt: now }),
      tx.insert(oauthIdentities).values({ ...identity, userId: user.id, createdAt: now, lastSignInAt: now }),
    ]);
    return user;
  }

  /** Notes a sign-in with `(issuer, subject)` (what an operator reviewing provider links looks at). */
  async touch(issuer: string, subject: string, now: Date): Promise<void> {
    const { oauthIdentities } = this.repo.tables;
    await this.repo.write((db) =>
      db
        .update(oauthIdentities)
        .set({ lastSignInAt: now })
        .where(and(eq(oauthIdentities.issuer, issuer), eq(oauthIdentities.subject, subject))),
    );
  }

  close(): Promise<void> {
    return this.repo.close();
  }
}

/**
 * The identity store on the server's database (its table is made by the migrations).
 *
 * @example const identities = await openIdentityStore(ctx.store);
 */
export async function openIdentityStore(store: Pick<Store, "openRepo">): Promise<IdentityStore> {
  return new IdentityStore(await store.openRepo(identityTables, { name: "oauth-identities", maxConnections: 2 }));
}
