/**
 * The body gate's cost (`bun run bench:body-gate`, `--json` for one machine-readable object): the
 * checks every request body passes before a route sees it (runtime/http/json-body.ts: UTF-8
 * decoding, the nesting scan of the text, JSON.parse, the walk for lone surrogates, NUL and
 * non-finite numbers) on a typical debate body and on a 1 MB one, beside the floor measured in the
 * same run: reading, decoding and JSON.parse alone, which any JSON route pays anyway. Goals: the
 * checks add at most 10 us to a typical body and at most as much again as parsing to a big one
 * (ratio <= 2). And a hostile 1 MB body (500,000 nested `[`), refused by the scan
 * before any parsing, beside JSON.parse of the same text.
 *
 * Benchmarks are measurements, not tests: nothing here fails CI.
 */
import { readJsonBody } from "../runtime/http/json-body.ts";
import type { BenchResult } from "./result.ts";

const json = process.argv.includes("--json");
const LIMIT = 2 * 1024 * 1024;

const typical = JSON.stringify({
  question: "Should the team adopt a four-day week?",
  agents: ["demo:alice", "demo:bob", "demo:carol"],
  rounds: 2,
  budget: { max_cost_usd: 1.5 },
  metadata: { ticket: "OPS-12", tags: ["hr", "q3"], requester: { team: "people", id: 42 } },
});
const big = JSON.stringify({
  question: "q",
  metadata: {
    rows: Array.from({ length: 9_000 }, (_, i) => ({
      id: i,
      name: `row ${i} ünïcode ✓`,
      score: i / 7,
      ok: i % 2 === 0,
    })),
  },
});
const hostile = `${"[".repeat(500_000)}${"]".repeat(500_000)}`;
const encoder = new TextEncoder();

const request = (bytes: Uint8Array) =>
  new Request("http://bench/api/debates", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: bytes,
  });

/** Mean microseconds per call over about `budgetMs` of calls, after a warm-up. */
async function perCall(fn: () => Promise<unknown> | unknown, budgetMs = 1500): Promise<number> {
  for (let i = 0; i < 20; i++) await fn();
  let calls = 0;
  const started = performance.now();
  while (performance.now() - started < budgetMs) {
    await fn();
    calls++;
  }
  return ((performance.now() - started) * 1000) / calls;
}

async function gateVersusParse(
  name: string,
  text: string,
  goal: string,
  met: (value: number, floor: number) => boolean,
): Promise<BenchResult> {
  const bytes = encoder.encode(text);
  // Both sides build the Request and read its body, so the difference is the checks alone.
  const floor = await perCall(async () => JSON.parse(new TextDecoder().decode(await request(bytes).arrayBuffer())));
  const value = await perCall(() => readJsonBody(request(bytes), LIMIT));
  return { name, value, unit: "us", floor, ratio: value / floor, goal, pass: met(value, floor) };
}

const results: BenchResult[] = [
  await gateVersusParse(`gate_typical_${typical.length}B`, typical, "<= floor + 10 us", (v, f) => v - f <= 10),
  await gateVersusParse(`gate_${Math.round(big.length / 1024)}KB`, big, "<= 2x floor", (v, f) => v / f <= 2),
];
{
  const bytes = encoder.encode(hostile);
  const floor = await perCall(() => JSON.parse(hostile), 3000);
  const value = await perCall(() => readJsonBody(request(bytes), LIMIT).catch(() => undefined), 3000);
  results.push({
    name: "gate_refuses_deep_1MB",
    value,
    unit: "us",
    floor,
    ratio: value / floor,
    goal: "< JSON.parse of it",
    pass: value < floor,
  });
}

if (json) {
  console.log(JSON.stringify({ bun: Bun.version, results }));
} else {
  const fmt = (n: number | undefined) => (n === undefined ? "" : n.toLocaleString("en", { maximumFractionDigits: 1 }));
  console.log(
    `${"name".padEnd(26)} ${"value".padStart(10)} ${"unit".padEnd(4)} ${"floor".padStart(10)} ${"ratio".padStart(7)}  goal`,
  );
  for (const r of results) {
    console.log(
      `${r.name.padEnd(26)} ${fmt(r.value).padStart(10)} ${r.unit.padEnd(4)} ${fmt(r.floor).padStart(10)} ${(r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}x`).padStart(7)}  ${r.goal ?? ""} ${r.pass ? "PASS" : "MISS"}`,
    );
  }
}
