/**
 * Receipts without a second copy of the chain: a finished debate's receipt is stored without
 * `hash_chain.events` (the event log holds every event's payload and link) and served whole, the
 * body byte for byte the text that was signed; a receipt stored with its events by an earlier
 * version is served as it always was; and migration 0006 compacts such receipts where the log holds
 * their whole chain, on SQLite and on PostgreSQL, leaving any other row as it is.
 */

import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { verify } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { canonical, verifyReceipt } from "../../actors/debate/receipt.ts";
import { runCli, startTestServer, type TestServer, tempDir } from "../support/server.ts";
import { createTempPostgresDatabase, postgresAvailable, type TempDatabase } from "../support/services.ts";
import { createDebate, watchDebate } from "./debate-client.ts";

const MIGRATION = "0006_receipts_without_chain_events";
const ENV = { ARAGORA_DEMO_TOKEN_DELAY_MS: "1" };

interface Served {
  text: string;
  doc: {
    receipt: Record<string, unknown> & { hash_chain: { length: number; events: unknown[] } };
    signature: string;
    algorithm: string;
    public_key: string;
    key_id: string;
    events: unknown[];
  };
}

async function served(server: TestServer, id: string): Promise<Served> {
  const res = await server.fetch(`/api/debates/${id}/receipt`);
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, doc: JSON.parse(text) };
}

/** The receipt as versions before 0006 stored it: the whole signed document, events inside. */
const withEventsInside = ({ doc }: Served) =>
  JSON.stringify({
    receipt: doc.receipt,
    signature: doc.signature,
    algorithm: doc.algorithm,
    public_key: doc.public_key,
    key_id: doc.key_id,
  });

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

function storedReceipts(dbPath: string): Map<string, string> {
  const db = new Database(dbPath, { readonly: true });
  try {
    const rows = db
      .query<{ debate_id: string; receipt: string }, []>("SELECT debate_id, receipt FROM debate_receipts")
      .all();
    return new Map(rows.map((r) => [r.debate_id, r.receipt]));
  } finally {
    db.close();
  }
}

describe("receipts on SQLite", () => {
  const dataDir = tempDir();
  const dbPath = join(dataDir, "core.db");
  let server: TestServer;
  let ids: string[] = [];
  const first = new Map<string, Served>();

  beforeAll(async () => {
    server = await startTestServer({ dataDir, env: ENV });
    ids = await Promise.all(
      ["Should we shard the orders table?", "Is a monorepo worth it?", "Tabs or spaces?"].map((question) =>
        createDebate(server, { question, rounds: 1 }),
      ),
    );
    for (const id of ids) await watchDebate(server, id);
    for (const id of ids) first.set(id, await served(server, id));
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("stored without hash_chain.events, served whole: the body is the text that was signed", async () => {
    const key = ((await (await server.fetch(`/api/receipts/public-key`)).json()) as { public_key: string }).public_key;
    const stored = storedReceipts(dbPath);
    for (const id of ids) {
      const text = stored.get(id) as string;
      const chain = (JSON.parse(text) as { receipt: { hash_chain: Record<string, unknown> } }).receipt.hash_chain;
      expect(Object.keys(chain).sort()).toEqual(["algorithm", "genesis", "head", "length", "link"]);
      const { text: body, doc } = first.get(id) as Served;
      expect(doc.receipt.hash_chain.events).toHaveLength(doc.receipt.hash_chain.length);
      expect(doc.events).toHaveLength(doc.receipt.hash_chain.length);
      // The chain entries were most of the stored bytes: a demo debate's log has hundreds of events.
      expect(doc.receipt.hash_chain.length).toBeGreaterThan(100);
      expect(text.length * 10).toBeLessThan(JSON.stringify(doc.receipt.hash_chain).length);
      expect(verifyReceipt(doc as never, key)).toMatchObject({ ok: true, problems: [] });
      // Byte for byte: the served body is the RFC 8785 text, and the signature is over exactly it.
      const signed = canonical(doc.receipt);
      expect(body.startsWith(`{"receipt":${signed},"signature":`)).toBe(true);
      expect(verify(null, Buffer.from(signed), key, Buffer.from(doc.signature, "base64"))).toBe(true);
    }
  });

  test("a receipt stored with its events inside (by an earlier version) is served as it was", async () => {
    const id = ids[0] as string;
    const before = first.get(id) as Served;
    await sqlite3(
      dbPath,
      `UPDATE debate_receipts SET receipt = ${sqlText(withEventsInside(before))} WHERE debate_id = '${id}';`,
    );
    expect(storedReceipts(dbPath).get(id)).toContain('"events":[{"digest"');
    expect((await served(server, id)).text).toBe(before.text);
  });

  test("migration 0006 compacts the receipts whose whole chain is in the log, and leaves the others", async () => {
    await server.stop();
    const [whole, longer, broken] = ids as [string, string, string];
    // As an earlier version left them: 0006 not applied, receipts with their events inside; one
    // claims more events than the log holds, one is not JSON at all.
    const claimsMore = JSON.parse(withEventsInside(first.get(longer) as Served));
    claimsMore.receipt.hash_chain.length += 1;
    await sqlite3(
      dbPath,
      [
        `DELETE FROM __aragora_migrations WHERE tag = '${MIGRATION}';`,
        `UPDATE debate_receipts SET receipt = ${sqlText(withEventsInside(first.get(whole) as Served))} WHERE debate_id = '${whole}';`,
        `UPDATE debate_receipts SET receipt = ${sqlText(JSON.stringify(claimsMore))} WHERE debate_id = '${longer}';`,
        `UPDATE debate_receipts SET receipt = '{"receipt": not json' WHERE debate_id = '${broken}';`,
      ].join("\n"),
    );
    const before = storedReceipts(dbPath);

    const applied = await runCli(["migrate", "apply"], { ARAGORA_DATA_DIR: dataDir });
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain(MIGRATION);

    const after = storedReceipts(dbPath);
    expect(JSON.parse(after.get(whole) as string).receipt.hash_chain.events).toBeUndefined();
    expect((after.get(whole) as string).length * 10).toBeLessThan((before.get(whole) as string).length);
    expect(after.get(longer)).toBe(before.get(longer) as string);
    expect(after.get(broken)).toBe('{"receipt": not json');

    // aragora verify agrees: the compacted receipt matches its log; the two left as they were are named.
    const length = (first.get(longer) as Served).doc.receipt.hash_chain.length;
    const verified = await runCli(["verify"], { ARAGORA_DATA_DIR: dataDir });
    expect(verified.code).toBe(1);
    expect(verified.stdout).not.toContain(whole);
    expect(verified.stdout).toContain(
      `${longer}: receipt hash_chain.length: is ${length + 1}, but the log's debate_end is seq ${length}`,
    );
    expect(verified.stdout).toContain(`${broken}: receipt: the stored receipt is not valid JSON`);

    server = await startTestServer({ dataDir, env: ENV });
    expect((await served(server, whole)).text).toBe((first.get(whole) as Served).text);
  });
});

const pg = await postgresAvailable();

describe.skipIf(!pg)("receipts on PostgreSQL", () => {
  let db: TempDatabase;
  const dataDir = tempDir();
  beforeAll(async () => {
    db = await createTempPostgresDatabase();
  });
  afterAll(async () => {
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("stored without hash_chain.events and served whole; migration 0006 compacts what an earlier version stored", async () => {
    const env = { ...ENV, DATABASE_URL: db.url };
    let server = await startTestServer({ dataDir, env });
    const ids = await Promise.all(
      ["Should we shard the orders table?", "Tabs or spaces?"].map((question) =>
        createDebate(server, { question, rounds: 1 }),
      ),
    );
    const [whole, broken] = ids as [string, string];
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      for (const id of ids) await watchDebate(server, id);
      const before = await served(server, whole);
      const rows = await sql<{ receipt: string }[]>`SELECT receipt FROM debate_receipts WHERE debate_id = ${whole}`;
      expect(JSON.parse(rows[0]?.receipt as string).receipt.hash_chain.events).toBeUndefined();
      expect(verifyReceipt(before.doc as never, before.doc.public_key).ok).toBe(true);
      await server.stop();

      await sql`DELETE FROM __aragora_migrations WHERE tag = ${MIGRATION}`;
      await sql`UPDATE debate_receipts SET receipt = ${withEventsInside(before)} WHERE debate_id = ${whole}`;
      await sql`UPDATE debate_receipts SET receipt = '{"receipt": not json' WHERE debate_id = ${broken}`;
      const applied = await runCli(["migrate", "apply"], { ARAGORA_DATA_DIR: dataDir, DATABASE_URL: db.url });
      expect(applied.code, applied.stderr).toBe(0);
      expect(applied.stdout).toContain(MIGRATION);
      const after = await sql<{ debate_id: string; receipt: string }[]>`SELECT debate_id, receipt FROM debate_receipts`;
      const byId = new Map(after.map((r) => [r.debate_id, r.receipt]));
      expect(JSON.parse(byId.get(whole) as string).receipt.hash_chain.events).toBeUndefined();
      expect(byId.get(broken)).toBe('{"receipt": not json');

      server = await startTestServer({ dataDir, env });
      expect((await served(server, whole)).text).toBe(before.text);
    } finally {
      await sql.end({ timeout: 1 });
      await server.stop();
    }
  });
});
