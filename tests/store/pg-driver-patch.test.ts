/**
 * The installed postgres.js carries every line patches/postgres@3.4.9.patch adds. A checkout whose
 * node_modules was installed before a change to the patch keeps the old one (bun applies a patch
 * when it installs the package), and the driver bugs it fixes come back as flaky failures far from
 * here: a server ended by an unhandled rejection mid-debate. This says so at once, and what to run.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");

/** Each patched file with the lines the patch adds to it. */
function addedLines(patch: string): Map<string, string[]> {
  const files = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of patch.split("\n")) {
    const target = /^\+\+\+ b\/(.+)$/.exec(line);
    if (target?.[1]) {
      current = [];
      files.set(target[1], current);
    } else if (current && line.startsWith("+") && line.trim() !== "+") current.push(line.slice(1));
  }
  return files;
}

test("the installed postgres.js has every line of the committed patch (else: bun install --frozen-lockfile)", () => {
  const patch = readFileSync(join(ROOT, "patches", "postgres@3.4.9.patch"), "utf8");
  const installed = dirname(Bun.resolveSync("postgres/package.json", ROOT));
  const files = addedLines(patch);
  expect(files.size).toBeGreaterThan(0);
  for (const [file, lines] of files) {
    const source = readFileSync(join(installed, file), "utf8");
    const missing = lines.filter((line) => !source.includes(line));
    expect({ file, missing }).toEqual({ file, missing: [] });
  }
});
