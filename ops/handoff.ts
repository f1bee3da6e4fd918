/**
 * Handing a run to the server that holds the data dir. At start the server writes a random token
 * to `<data dir>/ops.token` (mode 0600); `ops` reads it and presents it as a bearer token, so any
 * process that can read the data dir (and only such a process) can hand off a run without the
 * operator knowing ARAGORA_API_TOKEN. The server executes the run with its own connections and
 * keys; progress streams back as NDJSON from GET /api/ops/runs/:id/events.
 *
 * @example
 * const lock = readServerLock(dataDir);
 * if (lock) status = await handOffRun(serverBaseUrl(lock), readOpsToken(dataDir), body, view.event);
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ServerLockInfo } from "../runtime/server-lock.ts";
import type { RunEvent } from "./journal.ts";

export const OPS_TOKEN_FILE = "ops.token";

/** Write a fresh token readable only by the owner; returns it. */
export function writeOpsToken(dataDir: string): string {
  const token = randomBytes(32).toString("base64url");
  const path = join(dataDir, OPS_TOKEN_FILE);
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return token;
}

/** Remove the token at shutdown (only when it is still ours). */
export function removeOpsToken(dataDir: string, token: string): void {
  try {
    if (readFileSync(join(dataDir, OPS_TOKEN_FILE), "utf8").trim() === token) unlinkSync(join(dataDir, OPS_TOKEN_FILE));
  } catch {
    // already gone
  }
}

/** The server's token, or undefined when none is there or it cannot be read. */
export function readOpsToken(dataDir: string): string | undefined {
  try {
    return readFileSync(join(dataDir, OPS_TOKEN_FILE), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Compare tokens in constant time. */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The server's API address as seen from this host. */
export function serverBaseUrl(lock: ServerLockInfo): string {
  const host = lock.host === "0.0.0.0" || lock.host === "::" ? "127.0.0.1" : lock.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${lock.api_port}`;
}

export interface HandOffBody {
  playbook: { source: string; file: string };
  params: Record<string, string>;
  env: Record<string, string>;
  dry_run: boolean;
  started_by: string;
}

/** A refusal from the server (bad params ...), with its message. */
export class HandOffError extends Error {
  override name = "HandOffError";
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * Post the run, then follow its events until it finishes or pauses; returns its final status.
 * `path` is "/api/ops/runs" for a new run or "/api/ops/runs/<id>/resume" for a resume.
 */
export async function handOffRun(
  base: string,
  token: string,
  path: string,
  body: unknown,
  onEvent: (e: RunEvent) => void,
): Promise<{ runId: string; status: string }> {
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const res = await fetch(`${base}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  const answer = (await res.json()) as { run_id?: string; message?: string };
  if (!res.ok || !answer.run_id) throw new HandOffError(answer.message ?? `HTTP ${res.status}`, res.status);
  const runId = answer.run_id;
  const stream = await fetch(`${base}/api/ops/runs/${runId}/events`, { headers });
  if (!stream.ok || !stream.body)
    throw new HandOffError(`cannot follow run ${runId}: HTTP ${stream.status}`, stream.status);
  let status = "running";
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of stream.body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (!line) continue;
      const event = JSON.parse(line) as RunEvent;
      onEvent(event);
      if (event.kind === "run_finished") status = String(event.data.status);
      if (event.kind === "run_paused") status = "paused";
    }
  }
  return { runId, status };
}
