/**
 * Helpers for driving `ops` as an operator does: as a subprocess with ARAGORA_DATA_DIR set,
 * reading its JSON events as they are printed, and fingerprinting a data dir.
 *
 * @example
 * const run = spawnOps(["run", fixture("cancel.yml"), "--json"], { ARAGORA_DATA_DIR: dir });
 * const started = await run.waitFor((e) => e.kind === "step_started" && e.step === "wait");
 * await ops(["cancel", String(started.run_id)], { ARAGORA_DATA_DIR: dir });
 * expect(await run.exited).toBe(1);
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { BUN, childEnv, ROOT } from "../support/server.ts";

export const OPS = join(ROOT, "app/ops-cli.ts");

/** A fixture playbook's path (relative to the repo, as an operator would type it). */
export const fixture = (name: string) => `tests/ops/fixtures/${name}`;

export type OpsEvent = Record<string, unknown> & { kind: string; seq: number; run_id: string; step: string | null };

/** Run `ops ...` to completion. */
export async function ops(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([BUN, OPS, ...args], {
    cwd: ROOT,
    env: childEnv(env),
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

/** Parse `--json` output: one event per line. */
export const events = (stdout: string): OpsEvent[] =>
  stdout
    .trim()
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as OpsEvent);

/** Start `ops ...` and follow its JSON events while it runs. */
export function spawnOps(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([BUN, OPS, ...args], {
    cwd: ROOT,
    env: childEnv(env),
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const seen: OpsEvent[] = [];
  const waiters: { pred: (e: OpsEvent) => boolean; resolve: (e: OpsEvent) => void }[] = [];
  let stderr = "";
  const pump = (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of proc.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        const event = JSON.parse(line) as OpsEvent;
        seen.push(event);
        for (const w of [...waiters]) {
          if (w.pred(event)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(event);
          }
        }
      }
    }
  })();
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) stderr += decoder.decode(chunk, { stream: true });
  })();
  return {
    proc,
    events: seen,
    /** Resolves with the exit code once stdout is fully read. */
    exited: pump.then(() => proc.exited),
    stderr: () => stderr,
    /** The first event matching `pred` (already seen or still to come). */
    waitFor(pred: (e: OpsEvent) => boolean, timeoutMs = 15_000): Promise<OpsEvent> {
      const found = seen.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching event within ${timeoutMs} ms; stderr: ${stderr}`)),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        });
      });
    },
  };
}

/** `relative path -> sha256` of every file under `dir` (the proof that nothing changed). */
export function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else out[relative(dir, path)] = createHash("sha256").update(readFileSync(path)).digest("hex");
    }
  };
  walk(dir);
  return out;
}

/** The run's record, steps and journal as `ops show RUN --json` prints them. */
export async function showRun(runId: string, env: Record<string, string>) {
  const r = await ops(["show", runId, "--json"], env);
  if (r.code !== 0) throw new Error(`ops show ${runId} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as {
    run: { status: string; error: string | null; params: Record<string, unknown>; cancelRequested: boolean };
    steps: { stepId: string; status: string; attempts: number; error: string | null }[];
    journal: { seq: number; stepId: string | null; kind: string; data: Record<string, unknown> }[];
  };
}
