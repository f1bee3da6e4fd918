/**
 * pythonJsonDumps against Python itself: for each value, Python's `json.dumps(json.loads(text))`
 * (text: JSON.stringify of the value) must be our bytes exactly, and re-dumping our bytes must give
 * them back (the fixed point the runbook's verifier relies on). Strings of every awkward kind,
 * nested objects and arrays, key order, and numbers: integers of any size, floats that Python
 * writes in exponent form, and a few thousand random doubles.
 */
import { expect, test } from "bun:test";
import { pythonJsonDumps, pythonJsonNumber } from "./python-json.ts";

async function python(script: string, input: string): Promise<string> {
  const proc = Bun.spawn(["python3", "-c", script], { stdin: new Blob([input]), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(err);
  return out;
}

/** Python's json.dumps of each JSON line on stdin, one per line. */
const DUMPS = "import json, sys\nfor line in sys.stdin.read().split('\\n'):\n    print(json.dumps(json.loads(line)))";

const VALUES: unknown[] = [
  { b: 1, a: 2, "10": 3, z: { y: [1, { x: null }], w: [] }, e: {} },
  "plain",
  'quote " backslash \\ slash / newline \n tab \t cr \r bell \u0007 nul \u0000 del \u007f',
  "Café ☕ 日本語 «» — ‰ € 🎉👩‍👩‍👧",
  "lone surrogate \ud800 end",
  [true, false, null, 0, -1, 1.5, -0.25, 100, 1e21, 2 ** 53 + 2, 2 ** 64 + 2 ** 12],
  [0.1, 0.2 + 0.1, 1 / 3, 1e-5, 1.5e-7, 0.0001, 0.00012, 123456.789, 1e15 + 0.5, 5e-324, 1.7976931348623157e308],
  { nested: { deeper: { deepest: ["é", { n: -2.5e-10 }] } } },
];

test("Python re-dumps every value to our bytes", async () => {
  const ours = VALUES.map((v) => pythonJsonDumps(v));
  const fixedPoint = (await python(DUMPS, ours.join("\n"))).trimEnd().split("\n");
  expect(fixedPoint).toEqual(ours);
  // Integers beyond 2^53 are written with every digit of the double (JSON.stringify shortens
  // them, to a number Python reads as another integer); the rest is what Python writes from JSON.stringify's text.
  const exact = (v: unknown) => !JSON.stringify(v).match(/\d{17,}|e\+/);
  const safe = VALUES.filter(exact);
  const fromStringify = (await python(DUMPS, safe.map((v) => JSON.stringify(v)).join("\n"))).trimEnd().split("\n");
  expect(fromStringify).toEqual(safe.map((v) => pythonJsonDumps(v)));
  expect(pythonJsonDumps([1e21, 2 ** 53 + 2])).toBe("[1000000000000000000000, 9007199254740994]");
});

test("random doubles of every magnitude are written as Python's repr writes them", async () => {
  const numbers: number[] = [];
  for (let i = 0; i < 3000; i++) {
    const magnitude = 10 ** Math.floor(Math.random() * 40 - 20);
    numbers.push((Math.random() - 0.5) * magnitude);
  }
  const ours = numbers.map(pythonJsonNumber);
  expect((await python(DUMPS, ours.join("\n"))).trimEnd().split("\n")).toEqual(ours);
  const fractional = numbers.filter((n) => !Number.isInteger(n));
  expect(fractional.length).toBeGreaterThan(2000);
  const theirs = (await python(DUMPS, fractional.map((n) => JSON.stringify(n)).join("\n"))).trimEnd().split("\n");
  expect(theirs).toEqual(fractional.map(pythonJsonNumber));
});

test("what JSON cannot carry is left out as JSON.stringify leaves it", () => {
  expect(pythonJsonDumps({ a: undefined, b: () => 1, c: [undefined, Number.NaN] })).toBe('{"c": [null, null]}');
  expect(pythonJsonDumps(new Date(0))).toBe('"1970-01-01T00:00:00.000Z"');
});
