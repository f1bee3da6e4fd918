import { expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");

/** A child process that logs `n` lines through createLogger, then exits at once. */
function child(n: number, exitHow: "exit" | "flush") {
  const code = `
    import { createLogger } from ${JSON.stringify(join(ROOT, "runtime/log.ts"))};
    const log = createLogger("INFO");
    for (let i = 0; i < ${n}; i++) log.info({ i, pad: "x".repeat(200) }, "line");
    ${exitHow === "exit" ? "process.exit(0);" : "log.flush(() => process.exit(0));"}
  `;
  return Bun.spawn([process.execPath, "-e", code], { stdout: "pipe", stderr: "inherit" });
}

test("every line arrives, in order, when the process exits right after logging", async () => {
  const p = child(20_000, "exit");
  const text = await new Response(p.stdout).text();
  expect(await p.exited).toBe(0);
  const seq = text
    .trim()
    .split("\n")
    .map((l) => (JSON.parse(l) as { i: number }).i);
  expect(seq.length).toBe(20_000);
  expect(seq.every((v, i) => v === i)).toBe(true);
});

test("a reader slower than the writer loses nothing (a full pipe waits, it does not drop)", async () => {
  const p = child(30_000, "flush");
  // Let the ~7 MB back up in the pipe before reading any of it.
  await Bun.sleep(300);
  const text = await new Response(p.stdout).text();
  expect(await p.exited).toBe(0);
  const lines = text.trim().split("\n");
  expect(lines.length).toBe(30_000);
  expect((JSON.parse(lines.at(-1) as string) as { i: number }).i).toBe(29_999);
});
