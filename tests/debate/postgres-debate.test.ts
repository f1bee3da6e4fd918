/**
 * The PostgreSQL debate store through the real server (DATABASE_URL at a fresh temporary database):
 * a whole demo debate with its record, event log, receipt and leaderboard; then a debate killed
 * with SIGKILL mid-round resumes from its PostgreSQL event log on the next start and finishes,
 * with nothing a client saw lost or duplicated; and a debate during which every database connection
 * is ended again and again (a failover) finishes with its log whole and the server still up.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import postgres from "postgres";
import { runCli, startTestServer, tempDir } from "../support/server.ts";
import {
  createTempPostgresDatabase,
  postgresAvailable,
  TEST_DATABASE_URL,
  type TempDatabase,
} from "../support/services.ts";
import { createDebate, expectTokensReassemble, type WireEvent, watchDebate } from "./debate-client.ts";

const pg = await postgresAvailable();

describe.skipIf(!pg)("debates on PostgreSQL", () => {
  let db: TempDatabase;
  const dataDir = tempDir();
  beforeAll(async () => {
    db = await createTempPostgresDatabase();
  });
  afterAll(async () => {
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("a whole demo debate, then SIGKILL mid-debate and resume from the log", async () => {
    const env = { DATABASE_URL: db.url, ARAGORA_DEMO_TOKEN_DELAY_MS: "3" };
    const first = await startTestServer({ dataDir, env });
    try {
      const id = await createDebate(first, { question: "Should we index every foreign key?", rounds: 1 });
      const { events, record } = await watchDebate(first, id);
      expect(record.status).toBe("completed");
      expect(record.config).toMatchObject({ rounds: 1, consensus: "majority", timeouts: { debate_s: 3600 } });
      expect(expectTokensReassemble(events)).toBeGreaterThan(0);
      const list = (await (await first.fetch(`/api/debates?status=completed`)).json()) as {
        debates: { debate_id: string }[];
      };
      expect(list.debates.map((d) => d.debate_id)).toEqual([id]);
      const receipt = await first.fetch(`/api/debates/${id}/receipt`);
      expect(receipt.status).toBe(200);
      const rankings = (await (await first.fetch(`/api/leaderboard/rankings`)).json()) as { agents: unknown[] };
      if (record.consensus?.reached) expect(rankings.agents.length).toBeGreaterThan(0);
      const csv = await (await first.fetch(`/api/debates/export?format=csv`)).text();
      expect(csv).toContain(id);
    } finally {
      await first.stop();
    }

    const victim = await startTestServer({ dataDir, env });
    const id = await createDebate(victim, { question: "Should the billing service move to PostgreSQL?", rounds: 3 });
    const viewer = await victim.socket(victim.ws);
    viewer.ws.send(JSON.stringify({ type: "subscribe", debate_id: id, since_seq: 0 }));
    await viewer.next((m) => m.debate_id === id && m.type === "turn_start" && m.round === 1, 30_000);
    victim.proc.kill("SIGKILL");
    await victim.exited;
    const seen = viewer.messages.filter(
      (m) => m.debate_id === id && typeof m.seq === "number",
    ) as unknown as WireEvent[];
    expect(seen.length).toBeGreaterThan(5);

    const second = await startTestServer({ dataDir, env });
    try {
      await second.waitForLog((l) => l.debate_id === id && l.msg === "resuming debate from its event log");
      const { events, record } = await watchDebate(second, id, 60_000);
      expect(record.status).toBe("completed");
      for (const e of seen) expect(events[e.seq - 1]).toEqual(e);
      expect(events.filter((e) => e.type === "debate_end")).toHaveLength(1);
      expect(events.filter((e) => "resumed_running_ms" in e.data)).toHaveLength(1);
    } finally {
      await second.stop();
    }
  }, 120_000);

  test("two nodes resume the same debate at once: one finishes it, the other is fenced off its log", async () => {
    const env = { DATABASE_URL: db.url, ARAGORA_DEMO_TOKEN_DELAY_MS: "3" };
    const victim = await startTestServer({ dataDir: tempDir(), env });
    const id = await createDebate(victim, { question: "Who owns a debate after a failover?", rounds: 3 });
    const viewer = await victim.socket(victim.ws);
    viewer.ws.send(JSON.stringify({ type: "subscribe", debate_id: id, since_seq: 0 }));
    await viewer.next((m) => m.debate_id === id && m.type === "turn_start" && m.round === 1, 30_000);
    victim.proc.kill("SIGKILL");
    await victim.exited;

    // Both start together, and each resumes every debate still running in the shared database.
    const [b, c] = await Promise.all([
      startTestServer({ dataDir: tempDir(), env }),
      startTestServer({ dataDir: tempDir(), env }),
    ]);
    try {
      let record: { status?: string } = {};
      for (let i = 0; i < 120 && (record.status ?? "running") === "running"; i++) {
        await Bun.sleep(250);
        record = (await (await b.fetch(`/api/debates/${id}`)).json()) as { status?: string };
      }
      expect(record.status).toBe("completed");
      const { events } = (await (await b.fetch(`/api/debates/${id}/events?since_seq=0`)).json()) as {
        events: WireEvent[];
      };
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(events.filter((e) => e.type === "debate_end")).toHaveLength(1);
      expect(events.filter((e) => e.type === "receipt_generated")).toHaveLength(1);
      // The receipt's chain is the stored log's: whichever node finished, the log is one history.
      const dir = tempDir();
      const file = `${dir}/receipt.json`;
      await Bun.write(file, await (await b.fetch(`/api/debates/${id}/receipt`)).text());
      const verified = await runCli(["receipt", "verify", file]);
      expect(verified.stdout).toContain("valid");
      expect(verified.code).toBe(0);
      const resumedBy = [b, c].filter((n) =>
        n.logs().some((l) => l.debate_id === id && l.msg === "resuming debate from its event log"),
      );
      expect(resumedBy).toHaveLength(2);
      // One node finished it; the other found the winner's events at its seqs, stopped writing the
      // debate and let it go (before, its event writer retried that batch for ever).
      const said = (n: typeof b, pred: (l: Record<string, unknown>) => boolean) =>
        n.logs().some((l) => l.debate_id === id && pred(l));
      expect([b, c].filter((n) => said(n, (l) => l.msg === "debate finished"))).toHaveLength(1);
      const fenced = [b, c].filter((n) => said(n, (l) => String(l.msg).startsWith("another event is stored at a seq")));
      expect(fenced).toHaveLength(1);
      expect(said(fenced[0] as typeof b, (l) => l.reason === "another process is writing this debate's log")).toBe(
        true,
      );
    } finally {
      await Promise.all([b.stop(), c.stop()]);
    }
  }, 120_000);

  test("every database connection cut again and again mid-debate: it finishes, nothing lost or duplicated", async () => {
    const env = { DATABASE_URL: db.url, ARAGORA_DEMO_TOKEN_DELAY_MS: "3" };
    const server = await startTestServer({ dataDir, env });
    const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
    const name = new URL(db.url).pathname.slice(1);
    try {
      const id = await createDebate(server, { question: "Should sessions survive a database failover?", rounds: 2 });
      const watching = watchDebate(server, id, 60_000);
      // As a failover or a pooler restart does: the server's sessions end under it, every 150 ms.
      let cuts = 0;
      for (let i = 0; i < 8; i++) {
        await Bun.sleep(150);
        const ended = await admin`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
          WHERE datname = ${name} AND pid <> pg_backend_pid()`;
        cuts += ended.length;
      }
      expect(cuts).toBeGreaterThan(0);
      const { events, record } = await watching;
      expect(record.status).toBe("completed");
      expect(events.filter((e) => e.type === "debate_end")).toHaveLength(1);
      expect(events.at(-1)?.type).toBe("receipt_generated");
      expect(expectTokensReassemble(events)).toBeGreaterThan(0);
      const stored = (await (await server.fetch(`/api/debates/${id}/events?since_seq=0`)).json()) as {
        events: WireEvent[];
      };
      expect(stored.events).toEqual(events);
      expect((await server.fetch(`/api/debates/${id}/receipt`)).status).toBe(200);
      // The server lived through it (a write queued on a connection the server ended used to throw
      // from a timer inside postgres.js and end the process: see patches/).
      expect(server.proc.exitCode).toBeNull();
      expect(server.logs().some((l) => l.msg === "event log append failed; retrying")).toBe(true);
    } finally {
      await admin.end({ timeout: 1 });
      await server.stop();
    }
  }, 90_000);
});
