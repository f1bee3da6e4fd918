/**
 * Helpers for the access suites: a server with a known JWT secret (so a test can forge tokens the
 * way an attacker who knows the format would), JSON requests, the first owner claimed with the
 * setup token, and accounts made with `aragora users` (the password on stdin, as an operator does).
 *
 * @example
 * const server = await startAccessServer();
 * const owner = await claimOwner(server);
 * const me = await call(server, "GET", "/api/auth/me", { token: owner.access_token });
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, type StartOptions, startTestServer, type TestServer } from "../support/server.ts";

/** The secret every access test server signs with. */
export const JWT_SECRET = "access-tests-secret-".padEnd(48, "0123456789");
export const PASSWORD = "correct horse battery staple";

export interface Session {
  access_token: string;
  refresh_token: string;
  csrf_token: string;
  expires_in: number;
  user: { id: string; email: string; name: string; is_operator: boolean };
  organisation: { id: string; name: string };
  workspace: { id: string; name: string };
  role: string;
}

export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * A server for the access suites: the known secret, plus `env`.
 *
 * @example const server = await startAccessServer({ env: { ARAGORA_SIGNUP: "open" } });
 */
export function startAccessServer(options: StartOptions = {}): Promise<TestServer> {
  return startTestServer({ ...options, env: { ARAGORA_JWT_SECRET: JWT_SECRET, ...options.env } });
}

/** Every secret a suite handled, to look for in the server's output at its end. */
export const seenSecrets = new Set<string>();

/**
 * A JSON request; `token` becomes `Authorization: Bearer`. Tokens and keys in the answer are
 * remembered in {@link seenSecrets}.
 */
export async function call<T = Record<string, unknown>>(
  server: TestServer,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${server.api}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  const body = (text === "" ? {} : JSON.parse(text)) as T;
  for (const key of ["access_token", "refresh_token", "key", "ticket", "csrf_token"]) {
    const value = (body as Record<string, unknown>)[key];
    if (typeof value === "string") seenSecrets.add(value);
  }
  return { status: res.status, body, headers: res.headers };
}

/** The setup token the server wrote to its data directory on first start. */
export function setupTokenOf(server: TestServer): string {
  return readFileSync(join(server.dataDir, "setup-token"), "utf8").trim();
}

/**
 * Claims the first organisation's owner account with the setup token.
 *
 * @example const owner = await claimOwner(server);
 */
export async function claimOwner(server: TestServer, email = "owner@example.com"): Promise<Session> {
  const token = setupTokenOf(server);
  seenSecrets.add(token);
  const res = await call<Session>(server, "POST", "/api/auth/setup", {
    body: { setup_token: token, email, password: PASSWORD, name: "Owner" },
  });
  if (res.status !== 201) throw new Error(`setup answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * Runs `aragora users ...` against the server's store (its data dir, or `env.DATABASE_URL`),
 * writing `stdin` to the command.
 *
 * @example await usersCli(server, ["create", "--email", "a@example.com", "--role", "viewer"], `${PASSWORD}\n`);
 */
export async function usersCli(
  server: Pick<TestServer, "dataDir">,
  args: string[],
  stdin = "",
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const own = { ARAGORA_DATA_DIR: server.dataDir, ARAGORA_LOG_LEVEL: "WARNING", ...env };
  return runCli(["users", ...args], own, 20_000, stdin);
}

/**
 * An account made with `aragora users create`, signed in.
 *
 * @example const viewer = await userWithRole(server, "viewer");
 */
export async function userWithRole(
  server: TestServer,
  role: "viewer" | "member" | "admin" | "owner",
  env: Record<string, string> = {},
  extra: string[] = [],
): Promise<Session> {
  const email = `${role}-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const made = await usersCli(server, ["create", "--email", email, "--role", role, ...extra], `${PASSWORD}\n`, env);
  if (made.code !== 0) throw new Error(`users create failed: ${made.stderr}`);
  return signIn(server, email);
}

/** Signs in and returns the session (throws on anything but 200). */
export async function signIn(server: TestServer, email: string, password = PASSWORD): Promise<Session> {
  const res = await call<Session>(server, "POST", "/api/auth/sign-in", { body: { email, password } });
  if (res.status !== 200) throw new Error(`sign-in answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * Polls `probe` until it answers `status` or `withinMs` passes; the time it took, or throws.
 *
 * @example await becomes(401, () => call(server, "GET", "/api/auth/me", { token }), 1500);
 */
export async function becomes(
  status: number,
  probe: () => Promise<{ status: number }>,
  withinMs: number,
): Promise<number> {
  const start = performance.now();
  for (;;) {
    const { status: got } = await probe();
    const elapsed = performance.now() - start;
    if (got === status) return elapsed;
    if (elapsed > withinMs)
      throw new Error(`still ${got} after ${Math.round(elapsed)} ms; expected ${status} within ${withinMs} ms`);
    await Bun.sleep(25);
  }
}

/**
 * Fails naming the first secret found in the server's log lines (stdout); stderr is left out: it
 * carries the one console line with the setup token, by design.
 *
 * @example expectNoSecretsLogged(server, [...seenSecrets, PASSWORD]);
 */
export function noSecretsLogged(server: TestServer, secrets: Iterable<string>): string[] {
  const text = server
    .logs()
    .map((l) => JSON.stringify(l))
    .join("\n");
  return [...secrets].filter((s) => s.length >= 8 && text.includes(s)).map((s) => `${s.slice(0, 12)}...`);
}
