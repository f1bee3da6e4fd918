/**
 * The account a verified provider identity signs in to, in this order:
 *
 * 1. the account the identity (issuer, subject) is linked to;
 * 2. else the account whose email the provider asserts it verified (`email_verified`), which the
 *    identity is then linked to: an unverified address proves nothing, and linking on one would let
 *    anyone who types a victim's address at a lax provider into the victim's account;
 * 3. else a new account owning a new organisation, when sign-up is open (ARAGORA_SIGNUP=open), as
 *    a password sign-up makes; only with a verified email, so nobody claims an address that is not
 *    theirs before its owner arrives.
 *
 * Anything else is a {@link SignInRefused} with the code the browser is sent back with.
 *
 * @example
 * const { user, how } = await accountFor(identity, "google", { identities, accounts, signup: "open", now: new Date() });
 */
import { type } from "arktype";
import { lazy } from "../../schemas/lazy.ts";
import { type AccessStore, isUniqueViolation, type UserRow } from "../access-store.ts";
import type { IdentityStore } from "./identity-store.ts";
import type { VerifiedIdentity } from "./oidc-client.ts";

/** Why an identity the provider vouched for still may not sign in. */
export type AccountRefusal =
  /** Not linked yet, and the provider gave no email it verified (or no usable address). */
  | "email_not_verified"
  /** No account has this email and sign-up is closed. */
  | "signup_closed"
  /** The account was deleted. */
  | "account_disabled"
  /** The account with this email is linked to another identity at the same provider. */
  | "account_linked_elsewhere";

/** A refusal; `userId` names the account it concerned, when one was found (for the audit log). */
export class SignInRefused extends Error {
  override readonly name = "SignInRefused";
  constructor(
    readonly code: AccountRefusal,
    message: string,
    readonly userId: string | null = null,
  ) {
    super(message);
  }
}

/** How the sign-in found its account. */
export type AccountOutcome = { user: UserRow; how: "returning" | "linked" | "created" };

export interface AccountDeps {
  identities: IdentityStore;
  accounts: Pick<AccessStore, "userByEmail">;
  signup: "open" | "closed";
  now: Date;
}

const usableEmail = lazy(() => type("string.email").and("string <= 254"));

/**
 * Finds, links or makes the account of `identity` (see the module comment).
 *
 * @example
 * try { const { user } = await accountFor(identity, "oidc", deps); } catch (err) { if (err instanceof SignInRefused) ... }
 */
export async function accountFor(
  identity: VerifiedIdentity,
  provider: string,
  deps: AccountDeps,
  raced = false,
): Promise<AccountOutcome> {
  const { identities, accounts, now } = deps;
  const linked = await identities.userOf(identity.issuer, identity.subject);
  if (linked !== undefined) {
    if (linked.deletedAt !== null) throw new SignInRefused("account_disabled", "the account was deleted", linked.id);
    await identities.touch(identity.issuer, identity.subject, now);
    return { user: linked, how: "returning" };
  }

  const email = identity.email?.trim().toLowerCase() ?? null;
  if (email === null || !identity.emailVerified || usableEmail(email) instanceof type.errors) {
    throw new SignInRefused(
      "email_not_verified",
      email === null ? "the provider released no email" : "the provider did not verify the email",
    );
  }
  const stored = { issuer: identity.issuer, subject: identity.subject, provider, email };

  const existing = await accounts.userByEmail(email);
  if (existing !== undefined) {
    if (existing.deletedAt !== null)
      throw new SignInRefused("account_disabled", "the account was deleted", existing.id);
    const other = await identities.identityOf(existing.id, identity.issuer);
    if (other !== undefined) {
      throw new SignInRefused(
        "account_linked_elsewhere",
        "the account is linked to another identity at this provider",
        existing.id,
      );
    }
    try {
      await identities.link(stored, existing.id, now);
    } catch (err) {
      if (!isUniqueViolation(err) || raced) throw err;
      // Another callback linked first (this identity, or another one of this issuer): decide again.
      return accountFor(identity, provider, deps, true);
    }
    return { user: existing, how: "linked" };
  }

  if (deps.signup !== "open") {
    throw new SignInRefused("signup_closed", "no account has this email and sign-up is closed");
  }
  const name = (identity.name?.trim() || (email.split("@")[0] as string)).slice(0, 200);
  try {
    const user = await identities.createAccount(
      stored,
      { email, name, organisationName: `${name}'s organisation` },
      now,
    );
    return { user, how: "created" };
  } catch (err) {
    if (!isUniqueViolation(err) || raced) throw err;
    // Another callback made the account (or an account with this email appeared): decide again.
    return accountFor(identity, provider, deps, true);
  }
}
