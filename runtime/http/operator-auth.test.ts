import { describe, expect, test } from "bun:test";
import { firstOf } from "./authenticators.ts";
import { HttpError } from "./errors.ts";
import { adminApiOff, LEGACY_SCOPE, operatorAuthenticator } from "./operator-auth.ts";
import type { Authenticator, Principal } from "./principal.ts";

const TOKEN = "operator-token-0123456789";
const HANDOFF = "handoff-token-abcdefghij";

const request = (path: string, headers: Record<string, string> = {}) => {
  const r = new Request(`http://localhost${path}`, { headers });
  return [r, r.headers] as const;
};

describe("operatorAuthenticator", () => {
  const auth = operatorAuthenticator({ apiToken: TOKEN }, { handoffToken: HANDOFF });

  test("ARAGORA_API_TOKEN and the handoff token give the operator, in the default organisation", () => {
    for (const token of [TOKEN, HANDOFF]) {
      const found = auth.authenticate(...request("/api/debates", { authorization: `Bearer ${token}` }));
      expect(found).toEqual({
        kind: "operator",
        userId: null,
        orgId: LEGACY_SCOPE.orgId,
        workspaceId: LEGACY_SCOPE.workspaceId,
        roles: ["operator"],
        via: "operator_token",
      });
    }
    // The common request's principal is made once.
    const a = auth.authenticate(...request("/a", { authorization: `Bearer ${TOKEN}` }));
    const b = auth.authenticate(...request("/b", { authorization: `Bearer ${TOKEN}` }));
    expect(a).toBe(b);
  });

  test("anything else is not recognised (undefined), so the next authenticator may try", () => {
    for (const authorization of [
      undefined,
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `bearer${TOKEN}`,
      `Basic ${btoa(`operator:${TOKEN}`)}`,
      "Bearer ",
    ]) {
      const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
      expect({ authorization, found: auth.authenticate(...request("/api/debates", headers)) }).toEqual({
        authorization,
        found: undefined,
      });
    }
  });

  test("without ARAGORA_API_TOKEN no bearer token is the operator's (not even an empty one)", () => {
    const off = operatorAuthenticator({ apiToken: undefined });
    expect(off.authenticate(...request("/api/debates", { authorization: "Bearer " }))).toBeUndefined();
    expect(off.authenticate(...request("/api/debates", { authorization: `Bearer ${TOKEN}` }))).toBeUndefined();
  });

  test("X-Org-ID names the organisation the operator acts in; a malformed one is a 400, an unknown one a 404", () => {
    const scoped = operatorAuthenticator(
      { apiToken: TOKEN },
      {
        defaultScope: () => ({ orgId: "o-first", workspaceId: "w-first" }),
        scopeOf: (orgId) => (orgId === "o-second" ? { orgId, workspaceId: "w-second" } : undefined),
      },
    );
    const as = (org?: string) =>
      scoped.authenticate(
        ...request("/api/debates", {
          authorization: `Bearer ${TOKEN}`,
          ...(org === undefined ? {} : { "x-org-id": org }),
        }),
      );
    expect(as()).toMatchObject({ orgId: "o-first", workspaceId: "w-first" });
    expect(as("o-second")).toMatchObject({ orgId: "o-second", workspaceId: "w-second", roles: ["operator"] });
    const unknown = as("o-third") as HttpError;
    expect(unknown).toBeInstanceOf(HttpError);
    expect([unknown.status, unknown.code]).toEqual([404, "not_found"]);
    for (const bad of ["", "../o-1", "o 1", "x".repeat(65), "o-1;drop"]) {
      const refused = as(bad) as HttpError;
      expect({ bad, status: refused.status, code: refused.code }).toEqual({ bad, status: 400, code: "invalid_org" });
    }
    // X-Org-ID alone proves nothing.
    expect(scoped.authenticate(...request("/api/debates", { "x-org-id": "o-second" }))).toBeUndefined();
  });
});

describe("adminApiOff", () => {
  test("403 admin_disabled on /api/admin/* while ARAGORA_API_TOKEN is unset, nothing otherwise", () => {
    const off = adminApiOff({ apiToken: undefined });
    const refused = off.authenticate(...request("/api/admin/log-level")) as HttpError;
    expect([refused.status, refused.code]).toEqual([403, "admin_disabled"]);
    expect(off.authenticate(...request("/api/debates"))).toBeUndefined();
    expect(adminApiOff({ apiToken: TOKEN }).authenticate(...request("/api/admin/log-level"))).toBeUndefined();
  });
});

describe("firstOf", () => {
  const principal = (orgId: string): Principal => ({
    kind: "user",
    userId: "u-1",
    orgId,
    workspaceId: "w-1",
    roles: ["member"],
    via: "bearer",
  });
  const calls: string[] = [];
  const named = (name: string, answer: () => ReturnType<Authenticator["authenticate"]>): Authenticator => ({
    authenticate: () => {
      calls.push(name);
      return answer();
    },
  });

  test("the first answer that is not undefined decides, synchronously while every one asked is", () => {
    calls.length = 0;
    const chain = firstOf([
      named("a", () => undefined),
      named("b", () => principal("o-b")),
      named("c", () => principal("o-c")),
    ]);
    expect(chain.authenticate(...request("/x"))).toMatchObject({ orgId: "o-b" });
    expect(calls).toEqual(["a", "b"]);
  });

  test("a refusal stops the chain; an asynchronous answer is waited for before the next is asked", async () => {
    calls.length = 0;
    const refusal = new HttpError(401, "token_expired", "expired");
    expect(
      firstOf([named("a", () => refusal), named("b", () => principal("o-b"))]).authenticate(...request("/x")),
    ).toBe(refusal);
    const later = firstOf([
      named("a", () => Promise.resolve(undefined)),
      named("b", () => Promise.resolve(principal("o-b"))),
      named("c", () => principal("o-c")),
    ]).authenticate(...request("/x"));
    expect(later).toBeInstanceOf(Promise);
    expect(await later).toMatchObject({ orgId: "o-b" });
    expect(calls).toEqual(["a", "a", "b"]);
    expect(
      await firstOf([named("a", () => Promise.resolve(undefined))]).authenticate(...request("/x")),
    ).toBeUndefined();
  });
});
