import { expect, test } from "bun:test";
import { join } from "node:path";

test("spawning and stopping 100,000 actors returns the heap to its baseline within 5%", async () => {
  // Measured in a process of its own: in a shared test process other files' allocations would
  // land between the two heap readings.
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "leak-probe.ts")], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  expect({ code, err }).toEqual({ code: 0, err: "" });
  const { baseline, after, children, timers } = JSON.parse(out) as Record<string, number>;
  expect(children).toBe(0);
  expect(timers).toBe(0);
  expect(Math.abs((after as number) - (baseline as number)) / (baseline as number)).toBeLessThan(0.05);
}, 30_000);
