/**
 * Nodes sharing one PostgreSQL database report their encryption key ids in their heartbeat, the
 * active one first, right after a reload (not at the next 15 s beat): what a key rotation waits on
 * before it re-encrypts. And without a key on PostgreSQL no node makes one of its own.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyHex, keyFromHex } from "../../runtime/security/encryption-keys.ts";
import { startTestServer, type TestServer, tempDir } from "../support/server.ts";
import { createTempPostgresDatabase, postgresAvailable, type TempDatabase } from "../support/services.ts";

interface NodeView {
  node_id: string;
  active_key_id: string | null;
  encryption_key_ids: string[] | null;
}

async function nodesSeenBy(server: TestServer): Promise<NodeView[]> {
  const res = await server.fetch("/api/admin/nodes");
  expect(res.status).toBe(200);
  return ((await res.json()) as { nodes: NodeView[] }).nodes;
}

/** Polls the nodes `server` lists until `done` holds; the time it took, or throws after `withinMs`. */
async function until(server: TestServer, done: (nodes: NodeView[]) => boolean, withinMs: number): Promise<number> {
  const start = performance.now();
  for (;;) {
    const nodes = await nodesSeenBy(server);
    if (done(nodes)) return performance.now() - start;
    if (performance.now() - start > withinMs) throw new Error(`not within ${withinMs} ms: ${JSON.stringify(nodes)}`);
    await Bun.sleep(50);
  }
}

function writeKeyFile(path: string, keys: string[]): void {
  writeFileSync(path, `# newest first\n${keys.join("\n")}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

describe.skipIf(!(await postgresAvailable()))("encryption key ids in the heartbeat, on PostgreSQL", () => {
  let db: TempDatabase;
  const servers: TestServer[] = [];
  const dir = tempDir();
  beforeAll(async () => {
    db = await createTempPostgresDatabase();
  });
  afterAll(async () => {
    for (const s of servers) await s.stop();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("two nodes: each reports its keys, and a reloaded node reports the new active key at once", async () => {
    const [k1, k2] = [generateKeyHex(), generateKeyHex()];
    const [id1, id2] = [keyFromHex(k1).id, keyFromHex(k2).id];
    const [fileA, fileB] = [join(dir, "keys-a"), join(dir, "keys-b")];
    writeKeyFile(fileA, [k1]);
    writeKeyFile(fileB, [k1]);
    // One after the other: the second finds the migrations applied.
    const a = await startTestServer({ env: { DATABASE_URL: db.url, ARAGORA_ENCRYPTION_KEY_FILE: fileA } });
    servers.push(a);
    const b = await startTestServer({ env: { DATABASE_URL: db.url, ARAGORA_ENCRYPTION_KEY_FILE: fileB } });
    servers.push(b);
    const idOf = async (s: TestServer) =>
      String((await s.waitForLog((l) => String(l.msg).startsWith("aragora listening"))).node_id);
    const [nodeA, nodeB] = [await idOf(a), await idOf(b)];

    const both = await nodesSeenBy(a);
    expect(both.map((n) => n.node_id).sort()).toEqual([nodeA, nodeB].sort());
    for (const n of both) expect(n).toMatchObject({ active_key_id: id1, encryption_key_ids: [id1] });

    // Node A gets the new key first (SIGHUP); node B, asked through A, sees it well before a 15 s beat.
    writeKeyFile(fileA, [k2, k1]);
    a.signal("SIGHUP");
    const took = await until(b, (nodes) => nodes.find((n) => n.node_id === nodeA)?.active_key_id === id2, 5_000);
    expect(took).toBeLessThan(5_000);
    const mixed = await nodesSeenBy(b);
    expect(mixed.find((n) => n.node_id === nodeA)?.encryption_key_ids).toEqual([id2, id1]);
    expect(mixed.find((n) => n.node_id === nodeB)?.active_key_id).toBe(id1);

    // Node B by the operator's request: then every live node reports the new key as active.
    writeKeyFile(fileB, [k2, k1]);
    expect((await b.fetch("/api/admin/keys/reload", { method: "POST" })).status).toBe(200);
    await until(a, (nodes) => nodes.length === 2 && nodes.every((n) => n.active_key_id === id2), 5_000);

    // A node that stopped is no longer listed.
    expect(await b.stop()).toBe(0);
    servers.splice(servers.indexOf(b), 1);
    expect((await nodesSeenBy(a)).map((n) => n.node_id)).toEqual([nodeA]);
  }, 60_000);

  test("development on PostgreSQL without a key: no key of the node's own, secrets stored unencrypted, warned", async () => {
    const server = await startTestServer({ env: { DATABASE_URL: db.url } });
    servers.push(server);
    const warning = await server.waitForLog((l) => String(l.msg).startsWith("secrets are stored UNENCRYPTED"));
    expect(String(warning.msg)).toContain("PostgreSQL");
    expect(existsSync(join(server.dataDir, "encryption.key"))).toBe(false);
    const nodeId = String((await server.waitForLog((l) => String(l.msg).startsWith("aragora listening"))).node_id);
    const me = (await nodesSeenBy(server)).find((n) => n.node_id === nodeId);
    expect(me).toMatchObject({ active_key_id: null, encryption_key_ids: [] });
    const reload = await server.fetch("/api/admin/keys/reload", { method: "POST" });
    expect(reload.status).toBe(409);
    expect(((await reload.json()) as { error: string }).error).toBe("keys_not_reloadable");
  }, 30_000);
});
