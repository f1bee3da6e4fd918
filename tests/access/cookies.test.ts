/**
 * The browser session through a real server: sign-in sets the three cookies; the access cookie
 * alone authenticates reads; a write authenticated by cookie needs X-CSRF-Token equal to the
 * aragora_csrf cookie (missing or wrong: 403); refresh and sign-out work from the cookies.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { TestServer } from "../support/server.ts";
import { call, claimOwner, noSecretsLogged, PASSWORD, seenSecrets, startAccessServer } from "./support.ts";

let server: TestServer;

beforeAll(async () => {
  server = await startAccessServer();
  await claimOwner(server);
});
afterAll(async () => {
  const leaked = noSecretsLogged(server, seenSecrets);
  await server.stop();
  expect(leaked).toEqual([]);
});

/** The cookie jar a browser would keep from Set-Cookie headers. */
function jarFrom(headers: Headers): Record<string, string> {
  const jar: Record<string, string> = {};
  for (const line of headers.getSetCookie()) {
    const [pair] = line.split(";");
    const eq = (pair as string).indexOf("=");
    jar[(pair as string).slice(0, eq)] = (pair as string).slice(eq + 1);
  }
  return jar;
}
const cookieHeader = (jar: Record<string, string>, names: string[]) => names.map((n) => `${n}=${jar[n]}`).join("; ");

test("sign-in sets HttpOnly, Secure, SameSite=Strict cookies; the refresh token's only for /api/auth", async () => {
  const res = await call(server, "POST", "/api/auth/sign-in", {
    body: { email: "owner@example.com", password: PASSWORD },
  });
  const lines = res.headers.getSetCookie();
  const byName = Object.fromEntries(lines.map((l) => [l.split("=")[0], l]));
  expect(byName.aragora_access).toMatch(/; Path=\/; Max-Age=3600; Secure; SameSite=Strict; HttpOnly$/);
  expect(byName.aragora_refresh).toMatch(/; Path=\/api\/auth; Max-Age=2592000; Secure; SameSite=Strict; HttpOnly$/);
  expect(byName.aragora_csrf).toMatch(/; Path=\/; Max-Age=2592000; Secure; SameSite=Strict$/);
  expect(jarFrom(res.headers).aragora_csrf).toBe(res.body.csrf_token as string);
});

test("the cookie authenticates reads; writes need the CSRF token (missing or wrong: 403)", async () => {
  const res = await call(server, "POST", "/api/auth/sign-in", {
    body: { email: "owner@example.com", password: PASSWORD },
  });
  const jar = jarFrom(res.headers);
  const cookie = cookieHeader(jar, ["aragora_access", "aragora_csrf"]);
  const me = await call(server, "GET", "/api/auth/me", { headers: { cookie } });
  expect(me.status).toBe(200);
  expect(me.body.via).toBe("cookie");

  const missing = await call(server, "POST", "/api/auth/ws-ticket", { headers: { cookie } });
  expect(missing.status).toBe(403);
  expect(missing.body.error).toBe("csrf");
  const wrong = await call(server, "POST", "/api/auth/ws-ticket", { headers: { cookie, "x-csrf-token": "forged" } });
  expect(wrong.status).toBe(403);
  expect(wrong.body.error).toBe("csrf");
  // Without the csrf cookie there is nothing to match, whatever the header says.
  const noCsrfCookie = await call(server, "POST", "/api/auth/ws-ticket", {
    headers: { cookie: cookieHeader(jar, ["aragora_access"]), "x-csrf-token": jar.aragora_csrf as string },
  });
  expect(noCsrfCookie.status).toBe(403);
  const right = await call(server, "POST", "/api/auth/ws-ticket", {
    headers: { cookie, "x-csrf-token": jar.aragora_csrf as string },
  });
  expect(right.status).toBe(200);
  expect(right.body.ticket).toMatch(/^ara_wst_/);
  expect(right.body.expires_in).toBe(30);
  // A bearer token needs no CSRF token: no browser sends it by itself.
  expect((await call(server, "POST", "/api/auth/ws-ticket", { token: res.body.access_token as string })).status).toBe(
    200,
  );
});

test("refresh from the cookie needs the CSRF token too, and rotates the cookies; sign-out clears them", async () => {
  const res = await call(server, "POST", "/api/auth/sign-in", {
    body: { email: "owner@example.com", password: PASSWORD },
  });
  const jar = jarFrom(res.headers);
  const refreshCookie = cookieHeader(jar, ["aragora_refresh", "aragora_csrf"]);
  expect((await call(server, "POST", "/api/auth/refresh", { headers: { cookie: refreshCookie } })).status).toBe(403);
  const rotated = await call(server, "POST", "/api/auth/refresh", {
    headers: { cookie: refreshCookie, "x-csrf-token": jar.aragora_csrf as string },
  });
  expect(rotated.status).toBe(200);
  const next = jarFrom(rotated.headers);
  expect(next.aragora_refresh).not.toBe(jar.aragora_refresh);

  const cookie = cookieHeader(next, ["aragora_access", "aragora_refresh", "aragora_csrf"]);
  expect((await call(server, "POST", "/api/auth/sign-out", { headers: { cookie } })).status).toBe(403);
  const out = await call(server, "POST", "/api/auth/sign-out", {
    headers: { cookie, "x-csrf-token": next.aragora_csrf as string },
  });
  expect(out.status).toBe(200);
  // Every cookie of the session forgotten, and an impersonation's kept-aside one with them.
  expect(jarFrom(out.headers)).toEqual({
    aragora_access: "",
    aragora_refresh: "",
    aragora_csrf: "",
    aragora_impersonator_refresh: "",
  });
  expect((await call(server, "GET", "/api/auth/me", { headers: { cookie } })).status).toBe(401);
});
