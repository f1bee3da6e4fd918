/**
 * The authenticator on a real SQLite store with clocks the test moves: a token is verified once
 * and then answered synchronously; what its claims cannot say (account deleted, session ended, key
 * revoked) is seen within the freshness period; service headers count only on a service key.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { Writable } from "node:stream";
import { loadConfig } from "../runtime/config.ts";
import { HttpError } from "../runtime/http/errors.ts";
import type { Principal } from "../runtime/http/principal.ts";
import { createLogger } from "../runtime/log.ts";
import { createTokenSigner, type TokenSigner } from "../runtime/security/jwt.ts";
import { newSecretToken, TOKEN_PREFIX } from "../runtime/security/secret-token.ts";
import { openStore, type Store } from "../runtime/store/index.ts";
import { type TempDir, tempDataDir } from "../tests/support/services.ts";
import { type AccessStore, newId, openAccessStore } from "./access-store.ts";
import { type AccessAuthenticator, createAccessAuthenticator } from "./authenticator.ts";
import { ticketPrincipalJson } from "./ws-ticket.ts";

const quiet = createLogger("ERROR", new Writable({ write: (_c, _e, cb) => cb() }));

let dir: TempDir;
let store: Store;
let access: AccessStore;
let orgId: string;
let workspaceId: string;

beforeAll(async () => {
  dir = tempDataDir();
  store = await openStore(loadConfig({ ARAGORA_DATA_DIR: dir.path }), quiet);
  access = await openAccessStore(store);
  ({ orgId, workspaceId } = await access.ensureFirstOrganisation(new Date()));
});
afterAll(async () => {
  await access.close();
  await store.close();
  dir.remove();
});

/** The authenticator with moved clocks and counted reads. */
function harness() {
  const clocks = { wall: Date.now(), mono: 1_000_000 };
  const counts = { verify: 0, userState: 0, apiKey: 0, touch: 0 };
  const signer = createTokenSigner({
    secret: "s".repeat(16) + "e".repeat(16) + "c".repeat(8),
    issuer: "aragora",
    audience: "aragora-api",
    accessTtlSeconds: 3600,
    clock: () => clocks.wall,
  });
  const counted: Pick<TokenSigner, "verifyAccess" | "accessTtlSeconds"> = {
    accessTtlSeconds: signer.accessTtlSeconds,
    verifyAccess: (t) => {
      counts.verify++;
      return signer.verifyAccess(t);
    },
  };
  const authenticator: AccessAuthenticator = createAccessAuthenticator(
    {
      userState: (...a) => {
        counts.userState++;
        return access.userState(...a);
      },
      apiKeyByHash: (h) => {
        counts.apiKey++;
        return access.apiKeyByHash(h);
      },
      touchApiKey: (...a) => {
        counts.touch++;
        return access.touchApiKey(...a);
      },
      takeWsTicket: (...a) => access.takeWsTicket(...a),
    },
    counted,
    { log: quiet, clock: () => clocks.wall, monotonic: () => clocks.mono },
  );
  return { clocks, counts, signer, authenticator };
}

const request = (headers: Record<string, string>, method = "GET", url = "http://h/api/auth/me") => {
  const r = new Request(url, { method, headers });
  return [r, r.headers] as const;
};

async function newUser(role: "viewer" | "member" | "admin" | "owner" = "member") {
  return access.createUser(
    { email: `${crypto.randomUUID()}@example.com`, name: "T", passwordHash: null },
    orgId,
    role,
    new Date(),
  );
}

async function newKey(role: "viewer" | "member" | "admin" | "owner", kind: "user" | "service", scopes: string[] = []) {
  const secret = newSecretToken(TOKEN_PREFIX.apiKey);
  const id = newId.apiKey();
  await access.insertApiKey({
    id,
    orgId,
    createdBy: null,
    name: "k",
    prefix: secret.token.slice(0, 13),
    lastFour: secret.lastFour,
    keyHash: secret.hash,
    role,
    scopes: JSON.stringify(scopes),
    kind,
    createdAt: new Date(),
    lastUsedAt: null,
    revokedAt: null,
  });
  return { id, token: secret.token, hash: secret.hash };
}

describe("access tokens", () => {
  let h: ReturnType<typeof harness>;
  beforeEach(() => {
    h = harness();
  });

  test("a token is verified once; afterwards it is answered synchronously with the same principal", async () => {
    const user = await newUser("admin");
    const sid = newId.session();
    const token = await h.signer.signAccess({ sub: user.id, org: orgId, roles: ["admin"], sid });
    const first = await h.authenticator.authenticate(...request({ authorization: `Bearer ${token}` }));
    expect(first).toEqual({
      kind: "user",
      userId: user.id,
      orgId,
      workspaceId,
      roles: ["admin"],
      sessionId: sid,
      mfa: false,
      via: "bearer",
    });
    const second = h.authenticator.authenticate(...request({ authorization: `Bearer ${token}` }));
    expect(second).not.toBeInstanceOf(Promise);
    expect(second).toBe(first as Principal);
    expect(h.counts).toMatchObject({ verify: 1, userState: 1 });
  });

  test("a session that passed a second factor (amr otp) is an MFA principal; a password alone is not", async () => {
    const user = await newUser("owner");
    const sign = (amr: string[]) => h.signer.signAccess({ sub: user.id, org: orgId, roles: ["owner"], amr });
    const withOtp = await h.authenticator.authenticate(
      ...request({ authorization: `Bearer ${await sign(["pwd", "otp"])}` }),
    );
    expect((withOtp as Principal).mfa).toBe(true);
    const pwd = await h.authenticator.authenticate(...request({ authorization: `Bearer ${await sign(["pwd"])}` }));
    expect((pwd as Principal).mfa).toBe(false);
  });

  test("an impersonation token names its operator, and stops once the operator no longer is one or its user becomes one", async () => {
    const operator = await access.createUser(
      { email: `${crypto.randomUUID()}@example.com`, name: "Op", passwordHash: null, isOperator: true },
      orgId,
      "admin",
      new Date(),
    );
    const user = await newUser("member");
    const token = await h.signer.signAccess({ sub: user.id, org: orgId, roles: ["member"], act: { sub: operator.id } });
    const asUser = await h.authenticator.authenticate(...request({ authorization: `Bearer ${token}` }));
    expect(asUser).toMatchObject({ kind: "user", userId: user.id, actor: { userId: operator.id }, mfa: false });

    await access.deleteUser(operator.id, new Date());
    h.clocks.mono += 1500;
    const gone = await h.authenticator.authenticate(...request({ authorization: `Bearer ${token}` }));
    expect(gone).toBeInstanceOf(HttpError);
    expect((gone as HttpError).message).toContain("can no longer act as one");

    const nonOperator = await newUser("admin");
    const byNobody = await h.signer.signAccess({
      sub: user.id,
      org: orgId,
      roles: ["member"],
      act: { sub: nonOperator.id },
    });
    const refused = await h.authenticator.authenticate(...request({ authorization: `Bearer ${byNobody}` }));
    expect((refused as HttpError).status).toBe(401);

    const live = await access.createUser(
      { email: `${crypto.randomUUID()}@example.com`, name: "Op2", passwordHash: null, isOperator: true },
      orgId,
      "admin",
      new Date(),
    );
    const otherOperator = await access.createUser(
      { email: `${crypto.randomUUID()}@example.com`, name: "Op3", passwordHash: null, isOperator: true },
      orgId,
      "member",
      new Date(),
    );
    const ofOperator = await h.signer.signAccess({
      sub: otherOperator.id,
      org: orgId,
      roles: ["member"],
      act: { sub: live.id },
    });
    const operatorTarget = await h.authenticator.authenticate(...request({ authorization: `Bearer ${ofOperator}` }));
    expect((operatorTarget as HttpError).message).toContain("an operator cannot be impersonated");
  });

  test("a deleted account stops within the freshness period, and the state is read ahead while fresh", async () => {
    const user = await newUser();
    const token = await h.signer.signAccess({ sub: user.id, org: orgId, roles: ["member"] });
    await h.authenticator.authenticate(...request({ authorization: `Bearer ${token}` }));
    await access.deleteUser(user.id, new Date());
    h.clocks.mono += 600;
    // Still fresh: answered at once; a background read starts.
    expect(h.authenticator.authenticate(...request({ authorization: `Bearer ${token}` }))).not.toBeInstanceOf(
      HttpError,
    );
    expect(h.counts.userState).toBe(2);
    await Bun.sleep(20);
    const after = h.authenticator.authenticate(...request({ authorization: `Bearer ${token}` }));
    expect(after).toBeInstanceOf(HttpError);
    expect((after as HttpError).status).toBe(401);
    expect((after as HttpError).message).toContain("no longer exists");
  });

  test("a read that started before forgetUser is not trusted: what it saw may be what was just changed", async () => {
    const user = await newUser();
    const clocks = { wall: Date.now(), mono: 0 };
    let reads = 0;
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const signer = createTokenSigner({
      secret: "k".repeat(40),
      issuer: "aragora",
      audience: "aragora-api",
      accessTtlSeconds: 3600,
    });
    const authenticator = createAccessAuthenticator(
      {
        userState: async (...a) => {
          const state = await access.userState(...a);
          // The second read sees the account alive, and answers only when the test releases it.
          if (++reads === 2) await released;
          return state;
        },
        apiKeyByHash: (h) => access.apiKeyByHash(h),
        touchApiKey: (...a) => access.touchApiKey(...a),
        takeWsTicket: (...a) => access.takeWsTicket(...a),
      },
      signer,
      { log: quiet, clock: () => clocks.wall, monotonic: () => clocks.mono },
    );
    const token = await signer.signAccess({ sub: user.id, org: orgId, roles: ["member"] });
    const req = () => authenticator.authenticate(...request({ authorization: `Bearer ${token}` }));
    await req();
    clocks.mono += 600;
    expect(req()).not.toBeInstanceOf(HttpError); // answered now; the read ahead (the second) starts
    await Bun.sleep(10);
    expect(reads).toBe(2);
    await access.deleteUser(user.id, new Date());
    authenticator.forgetUser(user.id);
    release();
    await Bun.sleep(20);
    expect(reads).toBe(3);
    const refused = await req();
    expect(refused).toBeInstanceOf(HttpError);
    expect((refused as HttpError).message).toContain("no longer exists");
  });

  test("without traffic the state goes stale and is read again before answering", async () => {
    const user = await newUser();
    const sid = newId.session();
    await access.insertRefreshToken(
      {
        familyId: sid,
        userId: user.id,
        orgId,
        tokenHash: newSecretToken(TOKEN_PREFIX.refresh).hash,
        expiresAt: new Date(Date.now() + 60_000),
      },
      new Date(),
    );
    const token = await h.signer.signAccess({ sub: user.id, org: orgId, roles: ["member"], sid });
    await h.authenticator.authenticate(...request({ authorization: `Bearer ${token}` }));
    await access.revokeSession(sid, new Date());
    h.clocks.mono += 1000;
    const pending = h.authenticator.authenticate(...request({ authorization: `Bearer ${token}` }));
    expect(pending).toBeInstanceOf(Promise);
    const refused = await pending;
    expect(refused).toBeInstanceOf(HttpError);
    expect((refused as HttpError).message).toContain("session has ended");
  });

  test("a cached token is refused once it expires, without another verification", async () => {
    const user = await newUser();
    const token = await h.signer.signAccess({ sub: user.id, org: orgId, roles: ["member"] });
    await h.authenticator.authenticate(...request({ authorization: `Bearer ${token}` }));
    h.clocks.wall += 3601_000;
    const refused = h.authenticator.authenticate(...request({ authorization: `Bearer ${token}` }));
    expect((refused as HttpError).code).toBe("invalid_token");
    expect(h.counts.verify).toBe(1);
  });

  test("roles come from the membership now, not from the token", async () => {
    const user = await newUser("viewer");
    const token = await h.signer.signAccess({ sub: user.id, org: orgId, roles: ["owner"] });
    expect(
      ((await h.authenticator.authenticate(...request({ authorization: `Bearer ${token}` }))) as Principal).roles,
    ).toEqual(["viewer"]);
    const stranger = await h.signer.signAccess({ sub: user.id, org: "o-elsewhere", roles: ["owner"] });
    expect(await h.authenticator.authenticate(...request({ authorization: `Bearer ${stranger}` }))).toBeInstanceOf(
      HttpError,
    );
  });

  test("a forged or malformed token is refused; credentials that are not ours are left alone", async () => {
    const refused = await h.authenticator.authenticate(...request({ authorization: "Bearer a.b.c" }));
    expect((refused as HttpError).status).toBe(401);
    expect(
      h.authenticator.authenticate(...request({ authorization: "Bearer operator-token-of-the-shell" })),
    ).toBeUndefined();
    expect(h.authenticator.authenticate(...request({ authorization: "Basic dXNlcjpwYXNz" }))).toBeUndefined();
    expect(h.authenticator.authenticate(...request({}))).toBeUndefined();
  });

  test("the session cookie: reads pass, writes need the matching X-CSRF-Token", async () => {
    const user = await newUser();
    const token = await h.signer.signAccess({ sub: user.id, org: orgId, roles: ["member"] });
    const cookie = `aragora_access=${token}; aragora_csrf=c5rf`;
    expect(((await h.authenticator.authenticate(...request({ cookie }))) as Principal).via).toBe("cookie");
    const missing = h.authenticator.authenticate(...request({ cookie }, "POST"));
    expect((missing as HttpError).code).toBe("csrf");
    const wrong = h.authenticator.authenticate(...request({ cookie, "x-csrf-token": "other" }, "DELETE"));
    expect((wrong as HttpError).code).toBe("csrf");
    const right = await h.authenticator.authenticate(...request({ cookie, "x-csrf-token": "c5rf" }, "POST"));
    expect((right as Principal).userId).toBe(user.id);
  });
});

describe("API keys", () => {
  let h: ReturnType<typeof harness>;
  beforeEach(() => {
    h = harness();
  });

  test("a key is read once per second; a revoked one stops at the next read; last use is written once a minute", async () => {
    const key = await newKey("member", "user", ["debates.read"]);
    const first = await h.authenticator.authenticate(...request({ authorization: `Bearer ${key.token}` }));
    expect(first).toEqual({
      kind: "api_key",
      userId: null,
      orgId,
      workspaceId,
      roles: ["member"],
      keyId: key.id,
      // What the rate-limit view shows of the key: its prefix and last four, never the rest.
      keyHint: `${key.token.slice(0, 13)}…${key.token.slice(-4)}`,
      scopes: ["debates.read"],
      via: "api_key",
    });
    const again = h.authenticator.authenticate(...request({ "x-api-key": key.token }));
    expect(again).toEqual(first as Principal);
    expect(h.counts.apiKey).toBe(1);
    expect(h.counts.touch).toBe(1);
    await access.revokeApiKey(key.id, orgId, new Date());
    h.clocks.mono += 1000;
    h.clocks.wall += 1000;
    const refused = await h.authenticator.authenticate(...request({ authorization: `Bearer ${key.token}` }));
    expect((refused as HttpError).code).toBe("invalid_api_key");
    expect(h.counts.touch).toBe(1);
  });

  test("last use is written again only after a minute", async () => {
    const key = await newKey("viewer", "user");
    for (let i = 0; i < 5; i++) await h.authenticator.authenticate(...request({ "x-api-key": key.token }));
    expect(h.counts.touch).toBe(1);
    h.clocks.wall += 60_000;
    h.clocks.mono += 60_000;
    await h.authenticator.authenticate(...request({ "x-api-key": key.token }));
    expect(h.counts.touch).toBe(2);
  });

  test("forgetKey makes this node read the key again at once", async () => {
    const key = await newKey("viewer", "user");
    await h.authenticator.authenticate(...request({ "x-api-key": key.token }));
    await access.revokeApiKey(key.id, orgId, new Date());
    h.authenticator.forgetKey(key.hash);
    expect(((await h.authenticator.authenticate(...request({ "x-api-key": key.token }))) as HttpError).status).toBe(
      401,
    );
  });

  test("unknown and malformed keys are refused", async () => {
    const unknown = await h.authenticator.authenticate(
      ...request({ "x-api-key": newSecretToken(TOKEN_PREFIX.apiKey).token }),
    );
    expect((unknown as HttpError).message).toBe("unknown API key");
    expect(
      (h.authenticator.authenticate(...request({ authorization: "Bearer ara_live_short" })) as HttpError).status,
    ).toBe(401);
  });

  test("a service key speaks for a user within its organisation and role; other callers' service headers mean nothing", async () => {
    const service = await newKey("admin", "service");
    const as = (headers: Record<string, string>) =>
      h.authenticator.authenticate(...request({ "x-api-key": service.token, ...headers }));
    const acting = (await as({ "x-user-id": "u-42", "x-user-roles": "owner, viewer", "x-org-id": orgId })) as Principal;
    expect(acting).toMatchObject({
      kind: "service",
      userId: "u-42",
      orgId,
      roles: ["admin", "viewer"],
      keyId: service.id,
    });
    expect(((await as({ "x-user-id": "u-42", "x-org-id": "o-other" })) as HttpError).status).toBe(403);
    expect(((await as({ "x-user-id": "u-42", "x-user-roles": "root" })) as HttpError).status).toBe(400);
    expect(((await as({})) as Principal).userId).toBeNull();

    const plain = await newKey("viewer", "user");
    const ignored = (await h.authenticator.authenticate(
      ...request({ "x-api-key": plain.token, "x-user-id": "u-42", "x-user-roles": "owner", "x-org-id": "o-other" }),
    )) as Principal;
    expect(ignored).toMatchObject({ kind: "api_key", userId: null, orgId, roles: ["viewer"] });
    const user = await newUser("viewer");
    const token = await h.signer.signAccess({ sub: user.id, org: orgId, roles: ["viewer"] });
    const jwt = (await h.authenticator.authenticate(
      ...request({
        authorization: `Bearer ${token}`,
        "x-user-id": "u-42",
        "x-user-roles": "owner",
        "x-org-id": "o-other",
      }),
    )) as Principal;
    expect(jwt).toMatchObject({ userId: user.id, orgId, roles: ["viewer"] });
  });
});

describe("WebSocket tickets", () => {
  test("a ticket opens one WebSocket upgrade, once; elsewhere it is ignored", async () => {
    const h = harness();
    const principal: Principal = {
      kind: "user",
      userId: "u-1",
      orgId,
      workspaceId,
      roles: ["viewer"],
      sessionId: "s-1",
      via: "bearer",
    };
    const ticket = newSecretToken("ara_wst_");
    const now = new Date();
    await access.insertWsTicket(ticket.hash, ticketPrincipalJson(principal), now, new Date(now.getTime() + 30_000));
    const url = `http://h/ws?ticket=${ticket.token}`;
    expect(h.authenticator.authenticate(...request({}, "GET", url))).toBeUndefined();
    const opened = await h.authenticator.authenticate(...request({ upgrade: "websocket" }, "GET", url));
    expect(opened).toEqual({ ...principal, via: "ticket" });
    const twice = await h.authenticator.authenticate(...request({ upgrade: "websocket" }, "GET", url));
    expect((twice as HttpError).status).toBe(401);
  });
});
