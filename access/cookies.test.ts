import { describe, expect, test } from "bun:test";
import {
  ACCESS_COOKIE,
  clearedCookies,
  csrfRefusal,
  IMPERSONATOR_REFRESH_COOKIE,
  impersonationCookies,
  MFA_CHALLENGE_COOKIE,
  mfaChallengeCookie,
  readCookie,
  sessionCookies,
} from "./cookies.ts";

describe("readCookie", () => {
  test("finds the cookie by its whole name, not inside another name or value", () => {
    expect(readCookie("aragora_access=a1", ACCESS_COOKIE)).toBe("a1");
    expect(readCookie("x=1; aragora_access=a2; y=2", ACCESS_COOKIE)).toBe("a2");
    expect(readCookie("x=1;aragora_access=a3", ACCESS_COOKIE)).toBe("a3");
    expect(readCookie("evil_aragora_access=a4", ACCESS_COOKIE)).toBeUndefined();
    expect(readCookie("x=aragora_access=a5", ACCESS_COOKIE)).toBeUndefined();
    expect(readCookie("evil_aragora_access=a; aragora_access=a6", ACCESS_COOKIE)).toBe("a6");
    expect(readCookie("aragora_access=", ACCESS_COOKIE)).toBeUndefined();
    expect(readCookie(null, ACCESS_COOKIE)).toBeUndefined();
  });
});

describe("the sign-in challenge cookie", () => {
  test("is HttpOnly, Secure, SameSite=Strict, only sent to /api/auth/mfa, and lives as long as the challenge", () => {
    expect(mfaChallengeCookie("ara_mfa_x", 300)).toBe(
      "aragora_mfa_challenge=ara_mfa_x; Path=/api/auth/mfa; Max-Age=300; Secure; SameSite=Strict; HttpOnly",
    );
    expect(mfaChallengeCookie("", 0)).toContain("Max-Age=0");
    expect(readCookie(`${MFA_CHALLENGE_COOKIE}=ara_mfa_y; aragora_csrf=c`, MFA_CHALLENGE_COOKIE)).toBe("ara_mfa_y");
  });
});

describe("session cookies", () => {
  test("tokens are HttpOnly, Secure and SameSite=Strict; the refresh token only goes to /api/auth; the CSRF token is readable", () => {
    const [access, refresh, csrf] = sessionCookies({
      access: "A",
      accessMaxAge: 3600,
      refresh: "R",
      refreshMaxAge: 60,
      csrf: "C",
    });
    expect(access).toBe("aragora_access=A; Path=/; Max-Age=3600; Secure; SameSite=Strict; HttpOnly");
    expect(refresh).toBe("aragora_refresh=R; Path=/api/auth; Max-Age=60; Secure; SameSite=Strict; HttpOnly");
    expect(csrf).toBe("aragora_csrf=C; Path=/; Max-Age=60; Secure; SameSite=Strict");
    expect(clearedCookies().every((c) => c.includes("Max-Age=0"))).toBe(true);
  });
});

describe("impersonation cookies", () => {
  test("the access cookie acts as the user, the refresh cookie is cleared, the operator's kept aside for /api/auth only", () => {
    expect(
      impersonationCookies({ access: "I", accessMaxAge: 900, operatorRefresh: "R", operatorRefreshMaxAge: 60 }),
    ).toEqual([
      "aragora_access=I; Path=/; Max-Age=900; Secure; SameSite=Strict; HttpOnly",
      "aragora_refresh=; Path=/api/auth; Max-Age=0; Secure; SameSite=Strict; HttpOnly",
      "aragora_impersonator_refresh=R; Path=/api/auth; Max-Age=60; Secure; SameSite=Strict; HttpOnly",
    ]);
  });

  test("a new session, and a sign-out, end whatever impersonation the browser was in", () => {
    const values = { access: "A", accessMaxAge: 1, refresh: "R", refreshMaxAge: 1, csrf: "C" };
    for (const cookies of [sessionCookies(values), clearedCookies()]) {
      expect(cookies.find((c) => c.startsWith(`${IMPERSONATOR_REFRESH_COOKIE}=`))).toBe(
        "aragora_impersonator_refresh=; Path=/api/auth; Max-Age=0; Secure; SameSite=Strict; HttpOnly",
      );
    }
  });
});

describe("csrfRefusal", () => {
  const cookies = "aragora_access=t; aragora_csrf=token-1";
  test("reads need nothing; writes need the header equal to the cookie", () => {
    expect(csrfRefusal("GET", null, cookies)).toBeUndefined();
    expect(csrfRefusal("HEAD", null, cookies)).toBeUndefined();
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      expect(csrfRefusal(method, null, cookies)?.status).toBe(403);
      expect(csrfRefusal(method, "", cookies)?.code).toBe("csrf");
      expect(csrfRefusal(method, "token-2", cookies)?.code).toBe("csrf");
      expect(csrfRefusal(method, "token-1", "aragora_access=t")?.code).toBe("csrf");
      expect(csrfRefusal(method, "token-1", cookies)).toBeUndefined();
    }
  });
});
