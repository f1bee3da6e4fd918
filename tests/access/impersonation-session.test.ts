/**
 * "View as this user" through a real server, on SQLite and on PostgreSQL: the operator's browser
 * session (cookies, with CSRF) switches into an impersonation and back. The impersonation is an
 * access cookie of 15 minutes with no refresh token (a refresh finds nothing to renew); it cannot
 * start another, administer, make keys or touch the user's MFA; stopping gives the operator their
 * own session again (second factor included), also after the impersonation expired; start and stop
 * are in the audit log. Each refusal of the new routes is shown to hold.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TestServer } from "../support/server.ts";
import { createTempPostgresDatabase, postgresAvailable, type TempDatabase } from "../support/services.ts";
import { audited, auditTrail, claimsOf, enrolMfa, passwordStep, verifyStep } from "./mfa-support.ts";
import {
  call,
  claimOwner,
  noSecretsLogged,
  PASSWORD,
  type Session,
  seenSecrets,
  startAccessServer,
  userWithRole,
} from "./support.ts";

/** A browser's cookies for one server: what Set-Cookie gave it, sent back by path as a browser would. */
class CookieJar {
  private readonly cookies = new Map<string, { value: string; path: string }>();

  /** Takes the Set-Cookie values of an answer (Max-Age=0 forgets the cookie). */
  take(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";").map((part) => part.trim());
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const path = attributes.find((a) => a.startsWith("Path="))?.slice(5) ?? "/";
      const maxAge = attributes.find((a) => a.startsWith("Max-Age="))?.slice(8);
      if (maxAge === "0" || value === "") this.cookies.delete(name);
      else {
        this.cookies.set(name, { value, path });
        seenSecrets.add(value);
      }
    }
  }

  /** Puts a cookie as a script of the test's own would (to mix one session's cookies with another's). */
  put(name: string, value: string | undefined, path = "/"): this {
    if (value !== undefined) this.cookies.set(name, { value, path });
    return this;
  }

  get(name: string): string | undefined {
    return this.cookies.get(name)?.value;
  }

  forget(name: string): void {
    this.cookies.delete(name);
  }

  names(): string[] {
    return [...this.cookies.keys()].sort();
  }

  /** The Cookie header for a request to `path`. */
  header(path: string): string {
    return [...this.cookies]
      .filter(([, c]) => path === c.path || path.startsWith(c.path.endsWith("/") ? c.path : `${c.path}/`))
      .map(([name, c]) => `${name}=${c.value}`)
      .join("; ");
  }
}

/** A request as the browser holding `jar` makes it: its cookies, and X-CSRF-Token on writes unless told not to. */
async function browserCall(
  server: TestServer,
  jar: CookieJar,
  method: string,
  path: string,
  options: { body?: unknown; csrf?: boolean } = {},
) {
  const headers: Record<string, string> = { cookie: jar.header(path) };
  const csrf = jar.get("aragora_csrf");
  if (method !== "GET" && options.csrf !== false && csrf !== undefined) headers["x-csrf-token"] = csrf;
  const res = await call(server, method, path, {
    headers,
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  jar.take(res.headers);
  return res;
}

/** The cookie `name` as the answer set it (the whole Set-Cookie line), or undefined. */
const setCookie = (headers: Headers, name: string) => headers.getSetCookie().find((c) => c.startsWith(`${name}=`));

const pg = await postgresAvailable();

for (const backend of ["sqlite", "postgres"] as const) {
  describe.skipIf(backend === "postgres" && !pg)(`viewing the console as a user (${backend})`, () => {
    let server: TestServer;
    let db: TempDatabase | undefined;
    let owner: Session;
    let member: Session;
    let operatorEmail: string;
    let operatorId: string;
    let recoveryCodes: string[];
    /** What `aragora users` needs to reach the server's store. */
    const cliEnv = (): Record<string, string> => (db === undefined ? {} : { DATABASE_URL: db.url });

    /** A browser signed in as the operator with a second factor (a recovery code each: a TOTP code works once per period). */
    async function operatorBrowser(): Promise<CookieJar> {
      const jar = new CookieJar();
      const code = recoveryCodes.shift();
      if (code === undefined) throw new Error("out of recovery codes: sign in fewer times");
      const res = await verifyStep(server, await passwordStep(server, operatorEmail), { recovery_code: code });
      expect(res.status).toBe(200);
      jar.take(res.headers);
      return jar;
    }

    /** The operator's browser, now viewing as `userId`. */
    async function viewingAs(userId: string, reason = "ticket #77: cannot see debates"): Promise<CookieJar> {
      const jar = await operatorBrowser();
      const res = await browserCall(server, jar, "POST", "/api/auth/impersonation", {
        body: { user_id: userId, reason },
      });
      expect(res.status).toBe(200);
      return jar;
    }

    beforeAll(async () => {
      if (backend === "postgres") db = await createTempPostgresDatabase();
      server = await startAccessServer(db === undefined ? {} : { env: { DATABASE_URL: db.url } });
      if (db !== undefined) await server.waitForStderr("ara_setup_");
      owner = await claimOwner(server);
      member = await userWithRole(server, "member", cliEnv());
      const operator = await userWithRole(server, "admin", cliEnv(), ["--operator"]);
      operatorEmail = operator.user.email;
      operatorId = operator.user.id;
      recoveryCodes = (await enrolMfa(server, operator)).recoveryCodes;
    }, 60_000);

    afterAll(async () => {
      const leaked = server === undefined ? [] : noSecretsLogged(server, [...seenSecrets, PASSWORD]);
      await server?.stop();
      await db?.drop();
      expect(leaked).toEqual([]);
    });

    test("starting: the access cookie acts as the user for 15 minutes, the operator's refresh is kept aside, no token in the answer", async () => {
      const jar = await operatorBrowser();
      const operatorRefresh = jar.get("aragora_refresh");
      const res = await browserCall(server, jar, "POST", "/api/auth/impersonation", {
        body: { user_id: member.user.id, reason: "ticket #77: cannot see debates" },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.body).toMatchObject({
        user: { id: member.user.id },
        organisation: { id: owner.organisation.id },
        role: "member",
        expires_in: 900,
        impersonator: { user_id: operatorId },
      });
      expect(JSON.stringify(res.body)).not.toContain("ara_rt_");
      expect(res.body).not.toHaveProperty("access_token");
      expect(setCookie(res.headers, "aragora_access")).toContain("Max-Age=900; Secure; SameSite=Strict; HttpOnly");
      expect(setCookie(res.headers, "aragora_refresh")).toContain("Max-Age=0");
      expect(setCookie(res.headers, "aragora_impersonator_refresh")).toMatch(
        /^aragora_impersonator_refresh=ara_rt_[^;]+; Path=\/api\/auth; Max-Age=\d+; Secure; SameSite=Strict; HttpOnly$/,
      );
      expect(jar.get("aragora_impersonator_refresh")).toBe(operatorRefresh);
      expect(jar.names()).toEqual(["aragora_access", "aragora_csrf", "aragora_impersonator_refresh"]);

      const claims = claimsOf(jar.get("aragora_access") as string);
      expect(claims).toMatchObject({ sub: member.user.id, roles: ["member"], act: { sub: operatorId } });
      expect((claims.exp as number) - (claims.iat as number)).toBe(900);
      expect(claims).not.toHaveProperty("sid");
      expect(claims).not.toHaveProperty("amr");

      const me = await browserCall(server, jar, "GET", "/api/auth/me");
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({
        user: { id: member.user.id },
        via: "cookie",
        impersonated_by: { user_id: operatorId, email: operatorEmail, name: expect.any(String) },
      });
      expect((await browserCall(server, jar, "GET", "/api/debates")).status).toBe(200);
      // The request's log line (written after the answer) says who really made it.
      let line: Record<string, unknown> | undefined;
      for (let tries = 0; line === undefined && tries < 80; tries++) {
        if (tries > 0) await Bun.sleep(25);
        line = server
          .logs()
          .filter((l) => l.msg === "request" && l.path === "/api/debates" && l.impersonator_id === operatorId)
          .at(-1);
      }
      expect(line).toMatchObject({ user_id: member.user.id, status: 200 });

      const started = await audited(
        server,
        (e) =>
          e.action === "impersonation.started" &&
          e.outcome === "success" &&
          e.target?.id === member.user.id &&
          e.detail?.via === "cookie",
      );
      expect(started).toMatchObject({
        actor: { kind: "user", userId: operatorId },
        orgId: owner.organisation.id,
        detail: { reason: "ticket #77: cannot see debates", role: "member" },
      });
    });

    test("a refresh cannot renew it: there is no refresh token of the impersonation, and the kept one is not read there", async () => {
      const jar = await viewingAs(member.user.id);
      const access = jar.get("aragora_access");
      const refreshed = await browserCall(server, jar, "POST", "/api/auth/refresh");
      expect(refreshed.status).toBe(401);
      expect(refreshed.body.error).toBe("invalid_refresh_token");
      expect(refreshed.headers.getSetCookie()).toEqual([]);
      // Still the same 15-minute token, and still acting as the member until then.
      expect(jar.get("aragora_access")).toBe(access);
      const me = await browserCall(server, jar, "GET", "/api/auth/me");
      expect(me.body).toMatchObject({ user: { id: member.user.id } });
    });

    test("from inside: no second impersonation, no admin route, no API key, no change to the user's MFA", async () => {
      const admin = await userWithRole(server, "admin", cliEnv());
      const jar = await viewingAs(admin.user.id);
      for (const [path, body, code] of [
        // The impersonation has the user's role only, never operator: the permission is not there.
        ["/api/auth/impersonation", { user_id: member.user.id, reason: "chain" }, "forbidden"],
        ["/api/admin/impersonate", { user_id: member.user.id, reason: "chain" }, "forbidden"],
        ["/api/auth/api-key", { name: "persist" }, "impersonation_forbidden"],
        ["/api/auth/mfa/totp/enroll", { password: PASSWORD }, "impersonation_forbidden"],
        ["/api/auth/mfa/disable", { password: PASSWORD, code: "123456" }, "impersonation_forbidden"],
      ] as const) {
        const res = await browserCall(server, jar, "POST", path, { body });
        expect({ path, status: res.status, error: res.body.error }).toEqual({ path, status: 403, error: code });
      }
      expect((await browserCall(server, jar, "GET", "/api/admin/audit")).status).toBe(403);
      // The admin's own session may make a key: the refusal is the impersonation's.
      const own = await call(server, "POST", "/api/auth/api-key", { token: admin.access_token, body: { name: "own" } });
      expect(own.status).toBe(201);
    });

    test("stopping: the operator's own session is back (with its second factor), and the end is audited", async () => {
      const jar = await viewingAs(member.user.id);
      const kept = jar.get("aragora_impersonator_refresh");
      const res = await browserCall(server, jar, "POST", "/api/auth/impersonation/stop", { body: {} });
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(setCookie(res.headers, "aragora_impersonator_refresh")).toContain("Max-Age=0");
      expect(jar.names()).toEqual(["aragora_access", "aragora_csrf", "aragora_refresh"]);
      expect(jar.get("aragora_refresh")).not.toBe(kept);
      const claims = claimsOf(jar.get("aragora_access") as string);
      expect(claims).toMatchObject({ sub: operatorId, amr: ["pwd", "otp"] });
      expect(claims).not.toHaveProperty("act");

      const me = await browserCall(server, jar, "GET", "/api/auth/me");
      expect(me.body).toMatchObject({ user: { id: operatorId }, mfa: { session_verified: true } });
      expect(me.body).not.toHaveProperty("impersonated_by");
      expect((await browserCall(server, jar, "GET", "/api/admin/audit?limit=1")).status).toBe(200);
      // And it refreshes as the operator's session does.
      expect((await browserCall(server, jar, "POST", "/api/auth/refresh")).status).toBe(200);

      const ended = await audited(
        server,
        (e) => e.action === "impersonation.ended" && e.target?.id === member.user.id && e.actor.userId === operatorId,
      );
      expect(ended).toMatchObject({ outcome: "success", orgId: owner.organisation.id, detail: { ended: "stopped" } });
      // Stopped once: the kept token was used, and the browser holds none to stop again.
      const again = await browserCall(server, jar, "POST", "/api/auth/impersonation/stop", { body: {} });
      expect(again.status).toBe(400);
      expect(again.body.error).toBe("no_impersonation");
    });

    test("after the impersonation expired (its cookie gone), stopping still brings the operator back", async () => {
      const jar = await viewingAs(member.user.id);
      jar.forget("aragora_access");
      expect((await browserCall(server, jar, "GET", "/api/auth/me")).status).toBe(401);
      const res = await browserCall(server, jar, "POST", "/api/auth/impersonation/stop", { body: {} });
      expect(res.status).toBe(200);
      expect(claimsOf(jar.get("aragora_access") as string).sub).toBe(operatorId);
      await audited(
        server,
        (e) => e.action === "impersonation.ended" && e.actor.userId === operatorId && e.detail?.ended === "expired",
      );
    });

    test("the end names whom it acted as only from an impersonation of the same operator", async () => {
      // Another operator with MFA, impersonating the owner with a bearer token.
      const second = await userWithRole(server, "admin", cliEnv(), ["--operator"]);
      const codes = (await enrolMfa(server, second)).recoveryCodes;
      const secondSession = await verifyStep(server, await passwordStep(server, second.user.email), {
        recovery_code: codes[0] as string,
      });
      expect(secondSession.status).toBe(200);
      const theirs = await call(server, "POST", "/api/admin/impersonate", {
        token: secondSession.body.access_token as string,
        body: { user_id: owner.user.id, reason: "their own ticket" },
      });
      expect(theirs.status).toBe(200);

      // This browser's impersonation, with the other operator's impersonation token put in its place.
      const jar = await viewingAs(member.user.id);
      jar.put("aragora_access", theirs.body.access_token as string);
      const res = await browserCall(server, jar, "POST", "/api/auth/impersonation/stop", { body: {} });
      expect(res.status).toBe(200);
      expect(claimsOf(jar.get("aragora_access") as string).sub).toBe(operatorId);
      const ended = await audited(
        server,
        (e) => e.action === "impersonation.ended" && e.actor.userId === operatorId && e.detail?.ended === "expired",
      );
      expect(ended.target).toBeUndefined();
      const trail = await auditTrail(server);
      expect(
        trail.filter((e) => e.action === "impersonation.ended" && e.target?.id === owner.user.id).map((e) => e.actor),
      ).toEqual([]);
    });

    test("stopping needs the CSRF header: another site cannot end it (nor restore the operator's session)", async () => {
      const jar = await viewingAs(member.user.id);
      const res = await browserCall(server, jar, "POST", "/api/auth/impersonation/stop", { body: {}, csrf: false });
      expect(res.status).toBe(403);
      expect(res.body.error).toBe("csrf");
      expect(res.headers.getSetCookie()).toEqual([]);
      const me = await browserCall(server, jar, "GET", "/api/auth/me");
      expect(me.body).toMatchObject({ user: { id: member.user.id } });
    });

    test("signing out while viewing as a user ends the operator's kept session too", async () => {
      const jar = await viewingAs(member.user.id);
      const kept = jar.get("aragora_impersonator_refresh") as string;
      const out = await browserCall(server, jar, "POST", "/api/auth/sign-out", { body: {} });
      expect(out.status).toBe(200);
      expect(jar.names()).toEqual([]);
      const replayed = await call(server, "POST", "/api/auth/refresh", { body: { refresh_token: kept } });
      expect(replayed.status).toBe(401);
    });

    describe("who may not start it, and how", () => {
      /** One operator browser for these: none of the refusals switches it. */
      let jar: CookieJar;
      beforeAll(async () => {
        jar = await operatorBrowser();
      });

      test("without the CSRF header: 403 csrf", async () => {
        const res = await browserCall(server, jar, "POST", "/api/auth/impersonation", {
          body: { user_id: member.user.id, reason: "support" },
          csrf: false,
        });
        expect(res.status).toBe(403);
        expect(res.body.error).toBe("csrf");
        expect(jar.get("aragora_impersonator_refresh")).toBeUndefined();
      });

      test("with a bearer token (an API client): 403, it has no browser session to keep aside", async () => {
        const res = await call(server, "POST", "/api/auth/impersonation", {
          token: jar.get("aragora_access"),
          body: { user_id: member.user.id, reason: "support" },
        });
        expect(res.status).toBe(403);
        expect(res.body.error).toBe("browser_session_required");
        expect(res.headers.getSetCookie()).toEqual([]);
        // Even with the session's own refresh cookie beside it: a bearer token is not the browser's session.
        const both = await call(server, "POST", "/api/auth/impersonation", {
          token: jar.get("aragora_access"),
          headers: { cookie: `aragora_refresh=${jar.get("aragora_refresh")}` },
          body: { user_id: member.user.id, reason: "support" },
        });
        expect(both.status).toBe(403);
        expect(both.body.error).toBe("browser_session_required");
        await audited(
          server,
          (e) =>
            e.action === "impersonation.started" &&
            e.outcome === "failure" &&
            e.detail?.refused === "browser_session_required",
        );
      });

      test("without its refresh cookie, or with another session's: 403", async () => {
        const bare = new CookieJar()
          .put("aragora_access", jar.get("aragora_access"))
          .put("aragora_csrf", jar.get("aragora_csrf"));
        const none = await browserCall(server, bare, "POST", "/api/auth/impersonation", {
          body: { user_id: member.user.id, reason: "support" },
        });
        expect(none.status).toBe(403);
        expect(none.body.error).toBe("browser_session_required");

        // Another session of the same operator: its refresh token is not this session's to keep.
        const other = await operatorBrowser();
        const mixed = new CookieJar()
          .put("aragora_access", jar.get("aragora_access"))
          .put("aragora_csrf", jar.get("aragora_csrf"))
          .put("aragora_refresh", other.get("aragora_refresh"), "/api/auth");
        const res = await browserCall(server, mixed, "POST", "/api/auth/impersonation", {
          body: { user_id: member.user.id, reason: "support" },
        });
        expect(res.status).toBe(403);
        expect(res.body.error).toBe("browser_session_required");
        // A member's refresh token beside the operator's access cookie is refused the same way.
        const memberJar = new CookieJar();
        memberJar.take(
          (await call(server, "POST", "/api/auth/sign-in", { body: { email: member.user.email, password: PASSWORD } }))
            .headers,
        );
        mixed.put("aragora_refresh", memberJar.get("aragora_refresh"), "/api/auth");
        const res2 = await browserCall(server, mixed, "POST", "/api/auth/impersonation", {
          body: { user_id: member.user.id, reason: "support" },
        });
        expect(res2.status).toBe(403);
        expect(res2.body.error).toBe("browser_session_required");

        // This session's refresh token, but one already used (the session has moved on): keeping it
        // aside would end the operator's session at the stop, as a reuse.
        const used = jar.get("aragora_refresh") as string;
        const rotated = new CookieJar();
        rotated.take((await call(server, "POST", "/api/auth/refresh", { body: { refresh_token: used } })).headers);
        const stale = new CookieJar()
          .put("aragora_access", rotated.get("aragora_access"))
          .put("aragora_csrf", rotated.get("aragora_csrf"))
          .put("aragora_refresh", used, "/api/auth");
        const res3 = await browserCall(server, stale, "POST", "/api/auth/impersonation", {
          body: { user_id: member.user.id, reason: "support" },
        });
        expect(res3.status).toBe(403);
        expect(res3.body.error).toBe("browser_session_required");
        // The session itself goes on with its current token.
        jar
          .put("aragora_access", rotated.get("aragora_access"))
          .put("aragora_csrf", rotated.get("aragora_csrf"))
          .put("aragora_refresh", rotated.get("aragora_refresh"), "/api/auth");
      });

      test("an operator whose session skipped MFA, an operator as the target, oneself: refused as for the API", async () => {
        const pwdOnly = new CookieJar();
        // A second operator without MFA: the password alone opens a session, not this route.
        const second = await userWithRole(server, "admin", cliEnv(), ["--operator"]);
        pwdOnly.take(
          (await call(server, "POST", "/api/auth/sign-in", { body: { email: second.user.email, password: PASSWORD } }))
            .headers,
        );
        const noMfa = await browserCall(server, pwdOnly, "POST", "/api/auth/impersonation", {
          body: { user_id: member.user.id, reason: "support" },
        });
        expect(noMfa.status).toBe(403);
        expect(noMfa.body.error).toBe("mfa_required");

        const target = await browserCall(server, jar, "POST", "/api/auth/impersonation", {
          body: { user_id: second.user.id, reason: "support" },
        });
        expect(target.status).toBe(403);
        expect(target.body.error).toBe("cannot_impersonate_operator");
        const self = await browserCall(server, jar, "POST", "/api/auth/impersonation", {
          body: { user_id: operatorId, reason: "support" },
        });
        expect(self.status).toBe(403);
        const noReason = await browserCall(server, jar, "POST", "/api/auth/impersonation", {
          body: { user_id: member.user.id },
        });
        expect(noReason.status).toBe(422);
        expect((noReason.body.details as { field: string }[])[0]?.field).toBe("body.reason");
        // None of these switched the browser.
        expect(jar.names()).toEqual(["aragora_access", "aragora_csrf", "aragora_refresh"]);
        expect(claimsOf(jar.get("aragora_access") as string).sub).toBe(operatorId);
      });
    });
  });
}
