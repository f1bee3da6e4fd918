/**
 * The console's in-browser receipt check (web/client/pages/debates/receipt-verify.ts, WebCrypto)
 * gives the same verdict as `aragora receipt verify` (actors/debate/receipt.ts, node:crypto) on
 * a receipt as issued and on each way of tampering with one, and names the same field, event or
 * signature. The browser test (debates-history.test.ts) runs it in Chromium; this one runs it
 * under Bun's WebCrypto against the server's own verifier, case by case.
 */
import { describe, expect, test } from "bun:test";
import { generateKeyPairSync, sign } from "node:crypto";
import {
  canonical,
  issueReceipt,
  keyIdOf,
  loadOrCreateReceiptKey,
  receiptJson,
  verifyReceipt as serverVerify,
} from "../../actors/debate/receipt.ts";
import { verifyReceipt as browserVerify } from "../../web/client/pages/debates/receipt-verify.ts";
import { tempDir } from "../support/server.ts";

const key = loadOrCreateReceiptKey(tempDir("receipt-parity-"));
const publicKey = { algorithm: "Ed25519" as const, key_id: key.keyId, public_key: key.publicKeyPem };

const events = [1, 2, 3, 4].map((seq) => ({
  debate_id: "d-parity",
  seq,
  type: seq === 1 ? "debate_start" : seq === 4 ? "debate_end" : "token",
  round: 1,
  agent: seq === 1 || seq === 4 ? null : "demo:alice",
  ts: "2026-12-05T00:00:00.000Z",
  data: { text: `token ${seq} ünïcödé “quoted”` },
}));

/** A parsed document: a tamper case reaches into any part of it. */
// biome-ignore lint/suspicious/noExplicitAny: the cases write into arbitrary places of the JSON
type Doc = Record<string, any>;

/** A receipt document as GET /api/debates/:id/receipt serves it (with its events). */
function issued(): Doc {
  const doc = issueReceipt(
    {
      debateId: "d-parity",
      question: "Tabs or spaces? 🙂",
      configuration: { agents: ["demo:alice", "demo:bob"], rounds: 1, weight: 0.5 },
      participants: ["demo:alice", "demo:bob"],
      consensus: { reached: true, answer: "Tabs", support: 0.75 },
      baseline: { answer: "Spaces" },
      outcome: { status: "completed", stop_reason: "rounds_completed" },
      payloads: events.map((e) => JSON.stringify(e)),
      issuedAt: new Date("2026-12-05T00:00:01.000Z"),
    },
    key,
  );
  return { ...JSON.parse(receiptJson(doc)), events: structuredClone(events) };
}

/** What a problem line is about: the field, the event, the chain or the signature. */
function subjects(problems: string[]): string[] {
  const found = new Set<string>();
  for (const p of problems) {
    const m = /^(field "[a-z_]+"|event seq \d+|event hash chain broken at seq \d+|hash_chain\.\w+|signature)/.exec(p);
    if (m?.[1]) found.add(m[1]);
    else if (p.startsWith("every field matches its digest")) found.add("signature");
    else if (p.includes("different public key")) found.add('field "public_key"');
    else found.add(p);
  }
  return [...found].sort();
}

const forgedByOtherKey = () => {
  const doc = issued();
  doc.receipt.question = "Spaces or tabs?";
  doc.receipt.digests.question = new Bun.CryptoHasher("sha256").update(canonical(doc.receipt.question)).digest("hex");
  const other = generateKeyPairSync("ed25519");
  const pem = other.publicKey.export({ type: "spki", format: "pem" }) as string;
  doc.receipt.key_id = keyIdOf(pem);
  doc.signature = sign(null, Buffer.from(canonical(doc.receipt)), other.privateKey).toString("base64");
  doc.public_key = pem;
  doc.key_id = keyIdOf(pem);
  return doc;
};

const CASES: [string, (doc: Doc) => void][] = [
  ["as issued", () => {}],
  ["question, one character", (d) => (d.receipt.question = d.receipt.question.replace("Tabs", "Tabz"))],
  ["configuration", (d) => (d.receipt.configuration.rounds = 2)],
  ["participants", (d) => d.receipt.participants.push("demo:mallory")],
  ["consensus", (d) => (d.receipt.consensus.answer = "Spaces")],
  ["baseline", (d) => (d.receipt.baseline = null)],
  ["outcome", (d) => (d.receipt.outcome.status = "failed")],
  ["a chain entry's hash", (d) => (d.receipt.hash_chain.events[1].hash = "f".repeat(64))],
  ["the chain's length", (d) => (d.receipt.hash_chain.length = 3)],
  ["an event's text", (d) => (d.events[2].data.text = "forged")],
  ["an event removed", (d) => d.events.splice(1, 1)],
  ["an event added", (d) => d.events.push({ ...events[0], seq: 9 })],
  ["the signature", (d) => (d.signature = `${d.signature[0] === "A" ? "B" : "A"}${d.signature.slice(1)}`)],
  ["issued_at", (d) => (d.receipt.issued_at = "2026-12-05T00:00:02.000Z")],
  ["debate_id", (d) => (d.receipt.debate_id = "d-other")],
  ["version", (d) => (d.receipt.version = 2)],
  ["a digest", (d) => (d.receipt.digests.outcome = "0".repeat(64))],
  ["key_id", (d) => (d.receipt.key_id = "0123456789abcdef")],
  ["not a receipt", (d) => delete d.receipt],
];

describe("the browser's receipt check agrees with the server's", () => {
  for (const [name, tamper] of CASES) {
    test(name, async () => {
      const doc = issued();
      tamper(doc);
      const server = serverVerify(structuredClone(doc), key.publicKeyPem);
      const browser = await browserVerify(structuredClone(doc), publicKey);
      expect(browser.ok).toBe(server.ok);
      expect(browser.ok).toBe(name === "as issued");
      if (name !== "not a receipt") expect(subjects(browser.problems)).toEqual(subjects(server.problems));
    });
  }

  test("a receipt re-signed with another key (and that key embedded) is refused", async () => {
    const doc = forgedByOtherKey();
    // Self-consistent: the embedded key accepts it; pinned to the server's key, neither does.
    expect(serverVerify(structuredClone(doc)).ok).toBe(true);
    const server = serverVerify(structuredClone(doc), key.publicKeyPem);
    const browser = await browserVerify(structuredClone(doc), publicKey);
    expect([server.ok, browser.ok]).toEqual([false, false]);
    expect(browser.problems.join("\n")).toContain('field "key_id" names key');
    expect(browser.problems.join("\n")).toContain('field "public_key" names a different public key');
  });
});
