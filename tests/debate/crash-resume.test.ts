/**
 * Crash safety and the README's serve command: a demo debate through `bun run serve`; then a
 * debate killed with SIGKILL mid-round resumes from its event log on the next start and finishes,
 * with no event a client saw lost or duplicated; then SIGTERM with a short drain leaves a running
 * debate to resume, and the process still exits 0. And SIGTERM with a drain long enough lets a
 * running debate finish (completed, receipt issued and streamed) before the process exits 0.
 */
import { expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { startFakeProvider } from "../fake-provider/index.ts";
import {
  BUN,
  childEnv,
  OPERATOR_AUTH,
  openSocket,
  ROOT,
  startTestServer,
  TEST_OPERATOR_TOKEN,
  tempDir,
} from "../support/server.ts";

type Event = { type: string; seq: number; round: number | null; agent: string | null; data: Record<string, unknown> };

/** `bun run serve` as the README shows it, ports from the environment (0: free ones). */
async function serveFromReadme(dataDir: string, env: Record<string, string>) {
  const proc = Bun.spawn([BUN, "run", "serve"], {
    cwd: ROOT,
    env: childEnv({
      ARAGORA_DATA_DIR: dataDir,
      ARAGORA_API_PORT: "0",
      ARAGORA_WS_PORT: "0",
      ARAGORA_API_TOKEN: TEST_OPERATOR_TOKEN,
      ...env,
    }),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const decoder = new TextDecoder();
  let buf = "";
  const reader = proc.stdout.getReader();
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`serve exited: ${await new Response(proc.stderr).text()}`);
    buf += decoder.decode(value, { stream: true });
    const line = buf.split("\n").find((l) => l.includes("aragora listening"));
    if (line) {
      const parsed = JSON.parse(line) as { api: string; ws: string };
      // Keep draining stdout so the child never blocks on a full pipe.
      void (async () => {
        for (;;) if ((await reader.read()).done) break;
      })();
      const api = `http://127.0.0.1:${new URL(parsed.api).port}`;
      return { proc, api, ws: `ws://127.0.0.1:${new URL(parsed.ws).port}/ws` };
    }
  }
  throw new Error("serve did not log 'aragora listening' in time");
}

async function create(api: string, body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${api}/api/debates`, {
    method: "POST",
    headers: { "content-type": "application/json", ...OPERATOR_AUTH },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { debate_id: string }).debate_id;
}

async function events(api: string, id: string): Promise<Event[]> {
  return (
    (await (await fetch(`${api}/api/debates/${id}/events`, { headers: OPERATOR_AUTH })).json()) as {
      events: Event[];
    }
  ).events;
}

const structuralKey = (e: Event) => `${e.type}|${e.round}|${e.agent}|${String(e.data.phase ?? "")}`;

test("serve, SIGKILL mid-debate, resume from the log, SIGTERM drain, resume again", async () => {
  const dataDir = tempDir();
  const env = { ARAGORA_DEMO_TOKEN_DELAY_MS: "4", ARAGORA_SHUTDOWN_TIMEOUT_S: "1" };
  try {
    // 1. The README's serve command runs a whole demo debate.
    const first = await serveFromReadme(dataDir, env);
    const quick = await create(first.api, { question: "Is a demo debate enough to learn the API?", rounds: 1 });
    const watcher = await openSocket(first.ws, OPERATOR_AUTH);
    watcher.ws.send(JSON.stringify({ type: "subscribe", debate_id: quick, since_seq: 0 }));
    await watcher.next((m) => m.type === "receipt_generated", 25_000);
    const quickRecord = (await (
      await fetch(`${first.api}/api/debates/${quick}`, { headers: OPERATOR_AUTH })
    ).json()) as {
      status: string;
    };
    expect(quickRecord.status).toBe("completed");

    // `bun run` runs the server as its child: stop the server itself (server.json names it).
    const holder = JSON.parse(readFileSync(join(dataDir, "server.json"), "utf8")) as { pid: number };
    process.kill(holder.pid, "SIGTERM");
    expect(await first.proc.exited).toBe(0);
    watcher.ws.close();

    // 2. A long debate, watched live, killed mid-round with a real SIGKILL.
    const victim = await startTestServer({ dataDir, env });
    const id = await create(victim.api, { question: "Should we rewrite the billing system?", rounds: 4 });
    const viewer = await victim.socket(victim.ws);
    viewer.ws.send(JSON.stringify({ type: "subscribe", debate_id: id, since_seq: 0 }));
    await viewer.next((m) => m.debate_id === id && m.type === "turn_start" && m.round === 2, 25_000);
    victim.proc.kill("SIGKILL");
    await victim.exited;
    const seen = viewer.messages.filter((m) => m.debate_id === id && typeof m.seq === "number") as unknown as Event[];
    expect(seen.length).toBeGreaterThan(20);

    // 3. The next start resumes it from the log; it finishes.
    const second = await startTestServer({ dataDir, env });
    await second.waitForLog((l) => l.debate_id === id && l.msg === "resuming debate from its event log");
    const client = await second.socket(second.ws);
    client.ws.send(JSON.stringify({ type: "subscribe", debate_id: id, since_seq: 0 }));
    await client.next((m) => m.debate_id === id && m.type === "receipt_generated", 30_000);
    const log = await events(second.api, id);
    expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
    // Nothing a client saw before the kill was lost or changed.
    for (const e of seen) expect(log[e.seq - 1]).toEqual(e);
    // Nothing structural happened twice; an interrupted turn restarts visibly.
    const keys = log
      .filter((e) => e.type !== "token" && e.type !== "fallback" && e.data.restarted !== true)
      .map(structuralKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(log.filter((e) => e.type === "debate_end")).toHaveLength(1);
    const record = (await (await second.fetch(`/api/debates/${id}`)).json()) as { status: string };
    expect(record.status).toBe("completed");
    expect((await second.fetch(`/api/debates/${id}/receipt`)).status).toBe(200);

    // 4. SIGTERM with a 1 s drain: the running debate is interrupted, the process exits 0.
    const third = await create(second.api, { question: "Should the office close on Fridays?", rounds: 6 });
    await second.waitForLog((l) => l.debate_id === third && l.msg === "debate started");
    second.signal("SIGTERM");
    expect(await second.exited).toBe(0);
    const resumed = await startTestServer({ dataDir, env });
    const last = await resumed.socket(resumed.ws);
    last.ws.send(JSON.stringify({ type: "subscribe", debate_id: third, since_seq: 0 }));
    await last.next((m) => m.debate_id === third && m.type === "receipt_generated", 40_000);
    const thirdLog = await events(resumed.api, third);
    expect(thirdLog.map((e) => e.seq)).toEqual(thirdLog.map((_, i) => i + 1));
    expect(((await (await resumed.fetch(`/api/debates/${third}`)).json()) as { status: string }).status).toBe(
      "completed",
    );
    expect(await resumed.stop()).toBe(0);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 120_000);

test("SIGTERM while a debate runs, with time to drain: it finishes with its receipt, then the process exits 0", async () => {
  const fake = await startFakeProvider();
  // Every turn streams 12 tokens 40 ms apart: about half a second a turn, a few seconds a debate.
  const tokens = [
    "Having ",
    "weighed ",
    "it, ",
    "I ",
    "think ",
    "we ",
    "should.\n",
    "ANSWER: ",
    "yes ",
    "with ",
    "care",
    "\n",
  ];
  const turnMs = tokens.length * 40;
  fake.setDefault({ tokens, tokenDelayMs: 40 });
  const env = { ...fake.env({ providers: ["openai"] }), ARAGORA_SHUTDOWN_TIMEOUT_S: "30" };
  const server = await startTestServer({ env, keepDataDir: true });
  try {
    const agents = ["openai:gpt-slow-a", "openai:gpt-slow-b"];
    const id = await create(server.api, { question: "Should the drain wait for this debate?", agents, rounds: 1 });
    const watcher = await server.socket(server.ws);
    watcher.ws.send(JSON.stringify({ type: "subscribe", debate_id: id, since_seq: 0 }));
    await watcher.next((m) => m.debate_id === id && m.type === "turn_start", 10_000);

    const signalled = performance.now();
    server.signal("SIGTERM");
    // The watcher gets the end of the debate and its receipt before the server closes the socket.
    const receipt = await watcher.next((m) => m.debate_id === id && m.type === "receipt_generated", 30_000);
    expect(receipt.data).toMatchObject({ events: (receipt.seq as number) - 1 });
    expect((await watcher.closed).code).toBe(1001);
    expect(await server.exited).toBe(0);
    // It waited for at least the turn that was streaming when the signal came.
    expect(performance.now() - signalled).toBeGreaterThan(turnMs);

    const logs = server.logs();
    const at = (pred: (l: Record<string, unknown>) => boolean) => logs.findIndex(pred);
    const draining = at((l) => l.msg === "draining");
    const finished = at((l) => l.debate_id === id && l.msg === "debate finished");
    const stopped = at((l) => l.msg === "stopped");
    expect(draining).toBeGreaterThanOrEqual(0);
    expect(logs[draining]).toMatchObject({ reason: "SIGTERM", timeout_s: 30 });
    // The debate finished during the drain, completed, and only then did the server stop.
    expect(finished).toBeGreaterThan(draining);
    expect(logs[finished]).toMatchObject({ status: "completed", stop_reason: expect.any(String) });
    expect(stopped).toBeGreaterThan(finished);
    expect(logs.filter((l) => l.msg === "shutdown timeout reached; stopping what is left")).toEqual([]);
    expect(logs.filter((l) => l.debate_id === id && String(l.msg).startsWith("debate interrupted"))).toEqual([]);
    // Agent turns ran to their end inside the drain window.
    expect(logs.slice(draining).some((l) => l.debate_id === id && l.role !== undefined && l.output_tokens)).toBe(true);

    // The next start finds it finished: nothing to resume, the record and its receipt are there.
    const next = await startTestServer({ env, dataDir: server.dataDir });
    try {
      const record = (await (await next.fetch(`/api/debates/${id}`)).json()) as { status: string };
      expect(record.status).toBe("completed");
      const log = await events(next.api, id);
      expect(log.map((e) => e.type).slice(-2)).toEqual(["debate_end", "receipt_generated"]);
      expect(log.at(-2)?.data.status).toBe("completed");
      expect(log.at(-1)?.seq).toBe(receipt.seq as number);
      const doc = (await (await next.fetch(`/api/debates/${id}/receipt`)).json()) as {
        receipt: { debate_id: string; hash_chain: { length: number } };
      };
      expect(doc.receipt.debate_id).toBe(id);
      expect(doc.receipt.hash_chain.length).toBe(log.length - 1);
      expect(next.logs().some((l) => l.msg === "resuming unfinished debates")).toBe(false);
      expect(await next.stop()).toBe(0);
    } finally {
      if (next.proc.exitCode === null) next.proc.kill("SIGKILL");
    }
  } finally {
    if (server.proc.exitCode === null) server.proc.kill("SIGKILL");
    rmSync(server.dataDir, { recursive: true, force: true });
    await fake.stop();
  }
}, 60_000);
