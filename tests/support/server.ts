/**
 * Start the real server as a child process on free ports and talk to it the way an
 * operator would: HTTP, WebSocket, signals, and the JSON log lines on its stdout.
 *
 * The server gets an operator token (ARAGORA_API_TOKEN) unless the test names its own or asks for
 * none; `server.fetch` and `server.socket` present it, plain `fetch` and `openSocket` do not.
 *
 * @example
 * const server = await startTestServer({ env: { ARAGORA_WS_HEARTBEAT_S: "1" } });
 * const res = await server.fetch("/api/debates"); // as the operator
 * const anonymous = await server.fetch(`/api/debates`); // 401
 * await server.stop(); // SIGTERM, waits for exit, returns the exit code
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

export const ROOT = resolve(import.meta.dir, "../..");
export const CLI = join(ROOT, "app/cli.ts");
export const BUN = process.execPath;
/** The operator token a test server gets unless the test names its own. */
export const TEST_OPERATOR_TOKEN = "test-operator-token-0123456789";
/** The header that presents {@link TEST_OPERATOR_TOKEN}, for servers started some other way. */
export const OPERATOR_AUTH: Readonly<Record<string, string>> = { authorization: `Bearer ${TEST_OPERATOR_TOKEN}` };

export interface TestServer {
  api: string;
  ws: string;
  wsApi: string;
  apiPort: number;
  wsPort: number;
  dataDir: string;
  /** The server's operator token (ARAGORA_API_TOKEN), or undefined when it runs without one. */
  operatorToken: string | undefined;
  /** `Authorization: Bearer <operator token>` (empty without a token). */
  authHeaders: Record<string, string>;
  /**
   * fetch a path of the API as the operator: `authHeaders` are added unless `init.headers` has its
   * own Authorization.
   */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Open a WebSocket (default: the dedicated listener) as the operator. */
  socket(url?: string, headers?: Record<string, string>): ReturnType<typeof openSocket>;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Every JSON log line printed so far. */
  logs(): Record<string, unknown>[];
  stderr(): string;
  /**
   * Wait until stderr holds `text`: stderr is its own pipe, read apart from stdout, so a line the
   * server wrote before it logged "listening" may still be on its way.
   */
  waitForStderr(text: string, timeoutMs?: number): Promise<string>;
  /** Wait for a log line matching the predicate. */
  waitForLog(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  signal(sig: NodeJS.Signals): void;
  /** Resolves with the exit code. */
  exited: Promise<number>;
  /** SIGTERM and wait; removes the data dir unless keepDataDir. */
  stop(): Promise<number>;
}

export interface StartOptions {
  env?: Record<string, string>;
  /**
   * The operator token (default {@link TEST_OPERATOR_TOKEN}, or env.ARAGORA_API_TOKEN when given);
   * null starts the server without one (its admin API off).
   */
  operatorToken?: string | null;
  /** The program and its leading arguments; default `bun app/cli.ts`. */
  command?: string[];
  args?: string[];
  dataDir?: string;
  keepDataDir?: boolean;
  timeoutMs?: number;
}

export function tempDir(prefix = "aragora-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Environment for a child: the parent's minus anything Aragora reads, plus the overrides. */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith("ARAGORA_") || k === "DATABASE_URL") continue;
    env[k] = v;
  }
  return { ...env, ARAGORA_LOG_LEVEL: "DEBUG", ...extra };
}

export async function startTestServer(options: StartOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? tempDir();
  const command = options.command ?? [BUN, CLI];
  const operatorToken =
    options.operatorToken === null
      ? undefined
      : (options.env?.ARAGORA_API_TOKEN ?? options.operatorToken ?? TEST_OPERATOR_TOKEN);
  const tokenEnv: Record<string, string> = operatorToken === undefined ? {} : { ARAGORA_API_TOKEN: operatorToken };
  const proc = Bun.spawn([...command, "serve", "--api-port", "0", "--ws-port", "0", ...(options.args ?? [])], {
    cwd: ROOT,
    // Every test's callers share 127.0.0.1, so the per-address budget of the ways in (60 a minute)
    // would tie one suite's sign-ins to the next; the rate-limit suites set their own.
    env: childEnv({ ARAGORA_DATA_DIR: dataDir, ARAGORA_RATE_LIMIT_AUTH: "100000/60", ...tokenEnv, ...options.env }),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: Array<{
    pred: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }> = [];
  let stderr = "";
  const stderrWaiters = new Set<() => void>();
  const pump = async () => {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of proc.stdout) {
      buf += decoder.decode(chunk, { stream: true });
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        nl = buf.indexOf("\n");
        if (!text.trim()) continue;
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text);
        } catch {
          line = { raw: text };
        }
        lines.push(line);
        for (const w of [...waiters]) {
          if (w.pred(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    }
  };
  void pump();
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) {
      stderr += decoder.decode(chunk, { stream: true });
      for (const wake of [...stderrWaiters]) wake();
    }
  })();
  const waitForStderr = (text: string, timeoutMs = 10_000) =>
    new Promise<string>((resolveText, reject) => {
      const check = () => {
        if (!stderr.includes(text)) return;
        stderrWaiters.delete(check);
        clearTimeout(timer);
        resolveText(stderr);
      };
      const timer = setTimeout(() => {
        stderrWaiters.delete(check);
        reject(new Error(`stderr did not print ${JSON.stringify(text)} within ${timeoutMs} ms; stderr: ${stderr}`));
      }, timeoutMs);
      stderrWaiters.add(check);
      check();
    });

  const waitForLog = (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 10_000) => {
    const found = lines.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise<Record<string, unknown>>((resolveLine, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr}`)),
        timeoutMs,
      );
      waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolveLine(l);
        },
      });
    });
  };

  const exited = proc.exited;
  const listening = await Promise.race([
    waitForLog((l) => typeof l.msg === "string" && l.msg.startsWith("aragora listening"), options.timeoutMs ?? 15_000),
    exited.then((code) => {
      throw new Error(`server exited with ${code} before listening; stderr: ${stderr}`);
    }),
  ]);
  const apiPort = Number(new URL(String(listening.api)).port);
  const wsPort = Number(new URL(String(listening.ws)).port);
  const api = `http://127.0.0.1:${apiPort}`;
  const authHeaders: Record<string, string> =
    operatorToken === undefined ? {} : { authorization: `Bearer ${operatorToken}` };
  const server: TestServer = {
    api,
    ws: `ws://127.0.0.1:${wsPort}/ws`,
    wsApi: `ws://127.0.0.1:${apiPort}/ws`,
    apiPort,
    wsPort,
    dataDir,
    operatorToken,
    authHeaders,
    fetch: (path, init = {}) => fetch(`${api}${path}`, { ...init, headers: withAuth(authHeaders, init.headers) }),
    socket: (url = server.ws, headers = authHeaders) => openSocket(url, headers),
    proc,
    logs: () => lines,
    stderr: () => stderr,
    waitForStderr,
    waitForLog,
    signal: (sig) => proc.kill(sig),
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      const code = await exited;
      if (!options.keepDataDir && !options.dataDir) rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
  return server;
}

/** Run the CLI to completion; returns exit code and output. */
export async function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000, stdin?: string) {
  const proc = Bun.spawn([BUN, CLI, ...args], {
    cwd: ROOT,
    env: childEnv(env),
    stdin: stdin === undefined ? "ignore" : new Blob([stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/**
 * `headers` with `auth` added, unless they carry their own Authorization.
 *
 * @example fetch(url, { headers: withAuth(server.authHeaders, { "content-type": "application/json" }) })
 */
export function withAuth(auth: Record<string, string>, headers?: RequestInit["headers"]): Headers {
  const merged = new Headers(headers);
  for (const [name, value] of Object.entries(auth)) if (!merged.has(name)) merged.set(name, value);
  return merged;
}

/** Open a WebSocket (with `headers` on the upgrade, e.g. Authorization) and collect its messages. */
export async function openSocket(url: string, headers: Record<string, string> = {}) {
  // Bun's WebSocket takes upgrade headers (browsers cannot: they use a ?ticket=).
  const ws = new WebSocket(url, { headers });
  const messages: Record<string, unknown>[] = [];
  const waiters: Array<{
    pred: (m: Record<string, unknown>) => boolean;
    resolve: (m: Record<string, unknown>) => void;
  }> = [];
  let closed: { code: number; reason: string } | undefined;
  const closedPromise = new Promise<{ code: number; reason: string }>((res) => {
    ws.onclose = (e) => {
      closed = { code: e.code, reason: e.reason };
      res(closed);
    };
  });
  ws.onmessage = (e) => {
    const m = JSON.parse(String(e.data)) as Record<string, unknown>;
    messages.push(m);
    for (const w of [...waiters]) {
      if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  await new Promise<void>((res, rej) => {
    ws.onopen = () => res();
    ws.onerror = (e) => rej(new Error(`websocket ${url} failed: ${String((e as ErrorEvent).message ?? e)}`));
  });
  return {
    ws,
    messages,
    closed: closedPromise,
    isClosed: () => closed !== undefined,
    next(pred: (m: Record<string, unknown>) => boolean = () => true, timeoutMs = 5000) {
      const found = messages.find(pred);
      if (found) {
        messages.splice(messages.indexOf(found), 1);
        return Promise.resolve(found);
      }
      return new Promise<Record<string, unknown>>((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`no matching message within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          pred,
          resolve: (m) => {
            clearTimeout(timer);
            messages.splice(messages.indexOf(m), 1);
            res(m);
          },
        });
      });
    },
  };
}

export function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, "utf8"));
}
