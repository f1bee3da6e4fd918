/**
 * `aragora verify` and the `debates.verify` step of the weekly maintenance playbook, against a
 * running server's data: a clean data dir passes (with a debate still running); a byte flipped with
 * the sqlite3 CLI in a stored question, in an event payload and in a receipt is each named with its
 * debate and field or event; a question changed in the record and in a receipt re-signed with
 * another key is caught by the pinned key; the playbook run inside the server names the same and
 * leaves the server's SQLite locks alone; exit codes; and the same on PostgreSQL.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { openDebateSnapshots } from "../../actors/debate/debate-snapshots.ts";
import { trustedKeys, verifyDebates } from "../../actors/debate/debate-verify.ts";
import { sha256Hex } from "../../actors/debate/event-log.ts";
import { canonical, keyIdOf } from "../../actors/debate/receipt.ts";
import { debatesVerify } from "../../ops/actions/debates-verify.ts";
import { openStore } from "../../runtime/store/index.ts";
import { fixture, ops, events as opsEvents } from "../ops/support.ts";
import { actionContext } from "../ops-actions/context.ts";
import { runCli, startTestServer, type TestServer, tempDir } from "../support/server.ts";
import { createTempPostgresDatabase, postgresAvailable, type TempDatabase } from "../support/services.ts";
import { createDebate, watchDebate } from "./debate-client.ts";

// Tokens paced so that a twelve-round debate is still running while the checks read the store.
const ENV = { ARAGORA_DEMO_TOKEN_DELAY_MS: "5" };

const sqlText = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** Run SQL through the sqlite3 CLI, as an operator (or an attacker with file access) would. */
async function sqlite3(dbPath: string, sql: string): Promise<string> {
  const dir = tempDir();
  const file = join(dir, "statements.sql");
  writeFileSync(file, sql);
  const proc = Bun.spawn(["sqlite3", "-cmd", ".timeout 5000", dbPath, `.read ${file}`], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  rmSync(dir, { recursive: true, force: true });
  expect(err).toBe("");
  expect(code).toBe(0);
  return out;
}

function read<T>(dbPath: string, sql: string, ...args: string[]): T[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.query<T, string[]>(sql).all(...args);
  } finally {
    db.close();
  }
}

/** One byte of `text` at `index`, changed the way a bit flip would: its case, or its digit. */
function flipByte(text: string, index: number): string {
  const c = text[index] as string;
  const flipped = /[0-9]/.test(c)
    ? String((Number(c) + 1) % 10)
    : c === c.toLowerCase()
      ? c.toUpperCase()
      : c.toLowerCase();
  expect(flipped).not.toBe(c);
  return text.slice(0, index) + flipped + text.slice(index + 1);
}

const verify = (env: Record<string, string>, ...args: string[]) => runCli(["verify", ...args], env, 60_000);

describe("aragora verify on SQLite, beside a running server", () => {
  const dataDir = tempDir();
  const dbPath = join(dataDir, "core.db");
  const env = { ARAGORA_DATA_DIR: dataDir };
  let server: TestServer;
  let question: string; // debate with a flipped question
  let payload: string; // debate with a flipped event payload
  let receipt: string; // debate with a flipped receipt
  let resigned: string; // debate whose question and receipt are rewritten and re-signed
  let running: string;
  let later: string; // finished after the checks above
  let flippedSeq = 0;

  beforeAll(async () => {
    server = await startTestServer({ dataDir, env: ENV });
    const ids = await Promise.all(
      ["Should we shard the orders table?", "Is a monorepo worth it?", "Tabs or spaces?", "Should we page on p99?"].map(
        (q) => createDebate(server, { question: q, rounds: 1 }),
      ),
    );
    [question, payload, receipt, resigned] = ids as [string, string, string, string];
    for (const id of [question, payload, receipt, resigned]) await watchDebate(server, id);
    // Still running while verify reads: the demo agents never agree on this one, so it goes all twelve rounds.
    running = await createDebate(server, { question: "Should we rewrite the billing system in Rust?", rounds: 12 });
  }, 60_000);
  afterAll(async () => {
    await server.fetch(`/api/debates/${running}/cancel`, { method: "POST" });
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("a clean data dir passes, with a debate running and the server writing", async () => {
    const r = await verify(env);
    expect(r.stderr).not.toContain("aragora verify");
    expect(r.stdout).toMatch(/^checked 5 debates \([\d,]+ events, 4 receipts\): everything matches\n$/);
    expect(r.code).toBe(0);
    const json = await verify(env, "--json");
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, debates: 5, receipts: 4, differences: [] });
    expect(json.code).toBe(0);
    const record = (await (await server.fetch(`/api/debates/${running}`)).json()) as { status: string };
    expect(record.status).toBe("running");
  });

  test("a byte flipped in a question, in an event payload and in a receipt: each is named, exit 1", async () => {
    // The question, in the record.
    const [q] = read<{ question: string }>(dbPath, "SELECT question FROM debates WHERE id = ?", question);
    const flippedQuestion = flipByte(q?.question as string, "Should we shard the ".length);
    // A turn's text inside an event chunk: find the turn_end's payload in the chunk's text.
    const chunks = read<{ first_seq: number; events: string }>(
      dbPath,
      "SELECT first_seq, events FROM debate_event_chunks WHERE debate_id = ? ORDER BY first_seq",
      payload,
    );
    let chunkSql = "";
    for (const c of chunks) {
      const envelopes = JSON.parse(c.events) as { type: string; seq: number }[];
      const i = envelopes.findIndex((e) => e.type === "turn_end");
      if (i < 0 || envelopes.length < 2) continue;
      let at = 1;
      for (const e of envelopes.slice(0, i)) at += JSON.stringify(e).length + 1;
      at += JSON.stringify(envelopes[i]).indexOf('"text":"') + '"text":"'.length + 3;
      flippedSeq = (envelopes[i] as { seq: number }).seq;
      chunkSql = `UPDATE debate_event_chunks SET events = ${sqlText(flipByte(c.events, at))} WHERE debate_id = '${payload}' AND first_seq = ${c.first_seq};`;
      break;
    }
    expect(chunkSql).not.toBe("");
    // The baseline's answer, inside the stored receipt.
    const [stored] = read<{ receipt: string }>(
      dbPath,
      "SELECT receipt FROM debate_receipts WHERE debate_id = ?",
      receipt,
    );
    const text = stored?.receipt as string;
    const flippedReceipt = flipByte(text, text.indexOf('"baseline":{"answer":"') + '"baseline":{"answer":"'.length);
    await sqlite3(
      dbPath,
      [
        `UPDATE debates SET question = ${sqlText(flippedQuestion)} WHERE id = '${question}';`,
        chunkSql,
        `UPDATE debate_receipts SET receipt = ${sqlText(flippedReceipt)} WHERE debate_id = '${receipt}';`,
      ].join("\n"),
    );

    const r = await verify(env);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toContain(
      `${question}: question: the record says ${JSON.stringify(flippedQuestion)}, the signed receipt "Should we shard the orders table?"`,
    );
    expect(lines).toContain(
      `${payload}: event seq ${flippedSeq} (turn_end): does not hash to its stored chain link: its payload or its link was altered`,
    );
    expect(lines).toContain(
      `${receipt}: receipt field "baseline": does not match its signed digest: the stored receipt was altered`,
    );
    expect(
      lines.some((l) => l.startsWith(`${receipt}: baseline: the record differs from the signed receipt at character`)),
    ).toBe(true);
    // Nothing is said about the debates no one touched, and the count covers every line above it.
    expect(lines.filter((l) => l.startsWith(resigned) || l.startsWith(running))).toEqual([]);
    expect(lines.at(-1)).toMatch(new RegExp(`: ${lines.length - 1} differences in 3 debates$`));
  });

  test("a question changed in the record and in a receipt re-signed with another key is caught by the pinned key", async () => {
    const forged = "Should we page on p50?";
    const doc = JSON.parse(await (await server.fetch(`/api/debates/${resigned}/receipt`)).text()) as {
      receipt: Record<string, unknown> & { digests: Record<string, string>; hash_chain: Record<string, unknown> };
    };
    // The forger's own key, embedded in the receipt: the digests and the signature all check out with it.
    const forger = generateKeyPairSync("ed25519");
    const forgerPem = forger.publicKey.export({ type: "spki", format: "pem" }) as string;
    const body = { ...doc.receipt, question: forged, key_id: keyIdOf(forgerPem) };
    body.digests = { ...doc.receipt.digests, question: sha256Hex(canonical(forged)) };
    const { sign } = await import("node:crypto");
    const signature = sign(null, Buffer.from(canonical(body)), forger.privateKey).toString("base64");
    const { events: _, ...chain } = body.hash_chain;
    const stored = JSON.stringify({
      receipt: { ...body, hash_chain: chain },
      signature,
      algorithm: "Ed25519",
      public_key: forgerPem,
      key_id: keyIdOf(forgerPem),
    });
    await sqlite3(
      dbPath,
      [
        `UPDATE debates SET question = ${sqlText(forged)} WHERE id = '${resigned}';`,
        `UPDATE debate_receipts SET receipt = ${sqlText(stored)} WHERE debate_id = '${resigned}';`,
      ].join("\n"),
    );
    // The server serves it, and the embedded key verifies it: only the pinned key tells.
    const r = await verify(env);
    expect(r.code).toBe(1);
    const mine = r.stdout.split("\n").filter((l) => l.startsWith(resigned));
    expect(mine).toEqual([
      `${resigned}: receipt signature: signed with key ${keyIdOf(forgerPem)}, which is not a trusted key (this data dir's: ${
        ((await (await server.fetch(`/api/receipts/public-key`)).json()) as { key_id: string }).key_id
      }; --public-key trusts another)`,
    ]);
    // Trusting the forger's key (which an operator must never do) is what it would take to pass it.
    const keyFile = join(tempDir(), "forger.pem");
    writeFileSync(keyFile, forgerPem);
    const trusting = await verify(env, "--public-key", keyFile);
    expect(trusting.stdout.split("\n").filter((l) => l.startsWith(resigned))).toEqual([]);
  });

  test("the verify step of the weekly playbook, run by the server, names the differences and leaves its locks alone", async () => {
    // The step on its own (the weekly playbook's ANALYZE step is another action's business).
    const run = await ops(["run", fixture("verify-debates.yml"), "--json"], { ARAGORA_DATA_DIR: dataDir });
    expect(run.code).toBe(1);
    const list = opsEvents(run.stdout);
    expect(new Set(list.map((e) => e.run_id)).size).toBe(1);
    const failed = list.find((e) => e.kind === "step_finished" && e.step === "verify" && e.status === "failed");
    expect(String(failed?.error)).toContain(`${question}: question: the record says`);
    expect(String(failed?.error)).toContain(`${payload}: event seq ${flippedSeq} (turn_end)`);
    expect(String(failed?.error)).toMatch(/checked 5 debates .*: \d+ differences in 4 debates/);
    // It ran inside the server (handed off), which read core.db through SQLite only: the CLI's
    // connection closing now finds the server's locks in place, so it neither checkpoints nor
    // deletes the live WAL.
    await server.waitForLog((l) => String(l.msg).includes("stored debate differs"));
    expect(await sqlite3(dbPath, "SELECT count(*) FROM debates;")).toBe("5\n");
    expect(existsSync(`${dbPath}-wal`)).toBe(true);
    later = await createDebate(server, { question: "Written after the check?", rounds: 1 });
    const { record } = await watchDebate(server, later);
    expect(record.status).toBe("completed");
  }, 60_000);

  test("the step's outputs carry the verdict when fail_on_difference is false", async () => {
    const ctx = actionContext(dataDir);
    const out = await debatesVerify.run({ fail_on_difference: false }, ctx);
    expect(out).toMatchObject({ ok: false, debates: 6 });
    // Five finished debates, and the twelve-round one once it has finished too.
    expect(out.receipts).toBeGreaterThanOrEqual(5);
    expect(String(out.report)).toContain(`${receipt}: receipt field "baseline"`);
    await expect(debatesVerify.run({}, ctx)).rejects.toThrow(`${question}: question:`);
    expect((await debatesVerify.plan({}, ctx)).changes).toEqual([]);
    // Paged: the same answer a page of two debates at a time.
    const store = await openStore(ctx.config, ctx.log, { readOnly: true });
    const source = await openDebateSnapshots(store);
    try {
      const paged = await verifyDebates(
        source,
        { keys: trustedKeys(dataDir, []), retentionDays: 2555, pageSize: 2 },
        {
          difference: () => {},
        },
      );
      expect(paged).toMatchObject({ debates: 6, differences: out.differences });
    } finally {
      await source.close();
      await store.close();
    }
  });

  test("a deleted receipt is named, unless the debate is past receipt retention", async () => {
    await sqlite3(dbPath, `DELETE FROM debate_receipts WHERE debate_id = '${later}';`);
    const deleted = await verify(env);
    expect(deleted.code).toBe(1);
    expect(deleted.stdout).toContain(
      `${later}: receipt: missing: the debate is completed and its receipt is not past retention`,
    );
    // Finished eight years ago: ARAGORA_RECEIPT_RETENTION_DAYS (2555 by default) has removed it by design.
    const longAgo = Date.now() - 8 * 365 * 86_400_000;
    await sqlite3(dbPath, `UPDATE debates SET finished_at = ${longAgo} WHERE id = '${later}';`);
    const expired = await verify(env);
    expect(expired.stdout).not.toContain(later);
    expect(expired.stdout).toMatch(/\(\d[\d,]* events, \d+ receipts, 1 receipt past retention\)/);
  });

  test("events deleted from the log are named by their seqs", async () => {
    const [chunk] = read<{ first_seq: number; last_seq: number }>(
      dbPath,
      "SELECT first_seq, last_seq FROM debate_event_chunks WHERE debate_id = ? AND first_seq > 1 ORDER BY first_seq LIMIT 1",
      later,
    );
    const { first_seq: first, last_seq: last } = chunk as { first_seq: number; last_seq: number };
    await sqlite3(dbPath, `DELETE FROM debate_event_chunks WHERE debate_id = '${later}' AND first_seq = ${first};`);
    const r = await verify(env);
    expect(r.code).toBe(1);
    const seqs = first === last ? `event seq ${first}` : `events seq ${first}..${last}`;
    expect(r.stdout.split("\n").filter((l) => l.startsWith(later))).toEqual([
      `${later}: ${seqs}: missing from the log`,
    ]);
  });

  test("exit codes: 2 for bad usage, an unreadable key or a data dir with no database", async () => {
    const empty = tempDir();
    // Three processes side by side: each refuses before it reads anything.
    const [extra, key, none] = await Promise.all([
      verify(env, "everything"),
      verify(env, "--public-key", join(dataDir, "no-such.pem")),
      verify({ ARAGORA_DATA_DIR: empty }),
    ]);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain('unexpected argument "everything"');
    expect(key.code).toBe(2);
    expect(key.stderr).toContain("cannot read a public key");
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`no database at ${join(empty, "core.db")}`);
    // Nothing was created there.
    expect(existsSync(join(empty, "core.db"))).toBe(false);
    expect(existsSync(join(empty, "keys"))).toBe(false);
  });
});

const pg = await postgresAvailable();

describe.skipIf(!pg)("aragora verify on PostgreSQL", () => {
  let db: TempDatabase;
  const dataDir = tempDir();
  beforeAll(async () => {
    db = await createTempPostgresDatabase();
  });
  afterAll(async () => {
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("a clean store passes; a byte flipped in a question is named", async () => {
    const env = { ARAGORA_DATA_DIR: dataDir, DATABASE_URL: db.url };
    const server = await startTestServer({ dataDir, env: { ...ENV, DATABASE_URL: db.url } });
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      const id = await createDebate(server, { question: "Should we shard the orders table?", rounds: 1 });
      await watchDebate(server, id);
      const clean = await verify(env);
      expect(clean.stdout).toMatch(/^checked 1 debate \([\d,]+ events, 1 receipt\): everything matches\n$/);
      expect(clean.code).toBe(0);

      await sql`UPDATE debates SET question = 'Should we shard the Orders table?' WHERE id = ${id}`;
      const r = await verify(env);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(
        `${id}: question: the record says "Should we shard the Orders table?", the signed receipt "Should we shard the orders table?"`,
      );
      const ctx = actionContext(dataDir, { env: { DATABASE_URL: db.url } });
      await expect(debatesVerify.run({}, ctx)).rejects.toThrow(`${id}: question:`);
    } finally {
      await sql.end({ timeout: 1 });
      await server.stop();
    }
  });
});
