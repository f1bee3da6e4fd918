import { expect, test } from "bun:test";
import { Counter, Histogram, Registry } from "prom-client";
import { UnlabelledHistogram } from "./series-histogram.ts";
import { TallyCounter } from "./tally-counter.ts";

/** A registry's exposition, to compare two families of the same name. */
const lines = async (registry: Registry) => (await registry.metrics()).trim();

test("a TallyCounter exports what a prom-client Counter counting the same exports, tallies and inc() alike", async () => {
  const ours = new Registry();
  const theirs = new Registry();
  const tally = new TallyCounter({ name: "x_total", help: "h", labelNames: ["p", "r"] as const, registers: [ours] });
  const plain = new Counter({ name: "x_total", help: "h", labelNames: ["p", "r"] as const, registers: [theirs] });
  const granted = tally.tally({ p: "debates.read", r: "granted" });
  expect(tally.tally({ p: "debates.read", r: "granted" })).toBe(granted);
  plain.inc({ p: "debates.read", r: "granted" }, 0);
  const unused = tally.tally({ p: "admin.read", r: "denied" });
  plain.inc({ p: "admin.read", r: "denied" }, 0);
  for (let i = 0; i < 5; i++) granted.n++;
  plain.inc({ p: "debates.read", r: "granted" }, 5);
  tally.inc({ p: "debates.read", r: "denied" });
  plain.inc({ p: "debates.read", r: "denied" });
  expect(await lines(ours)).toBe(await lines(theirs));
  // Counts keep adding up across scrapes; nothing is counted twice.
  granted.n += 2;
  plain.inc({ p: "debates.read", r: "granted" }, 2);
  expect(await lines(ours)).toBe(await lines(theirs));
  expect(await lines(ours)).toContain('x_total{p="debates.read",r="granted"} 7');
  expect(unused.n).toBe(0);
  tally.reset();
  granted.n++;
  expect(await lines(ours)).toContain('x_total{p="debates.read",r="granted"} 1');
});

test("an UnlabelledHistogram exports what a prom-client Histogram observing the same exports", async () => {
  const ours = new Registry();
  const theirs = new Registry();
  const buckets = [1e-6, 1e-5, 1e-3];
  const fast = new UnlabelledHistogram({ name: "x_seconds", help: "h", buckets, registers: [ours] });
  const plain = new Histogram({ name: "x_seconds", help: "h", buckets, registers: [theirs] });
  expect(await lines(ours)).toBe(await lines(theirs));
  for (const v of [2e-7, 5e-6, 5e-6, 0.5, 1e-3]) {
    fast.series.observe(v);
    plain.observe(v);
  }
  expect(await lines(ours)).toBe(await lines(theirs));
  fast.reset();
  expect(await lines(ours)).toContain("x_seconds_count 0");
});
