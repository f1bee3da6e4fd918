import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { VARIABLES } from "../runtime/config.ts";

const readme = readFileSync(join(import.meta.dir, "..", "README.md"), "utf8");

test("the README documents every configuration variable with its default", () => {
  for (const v of VARIABLES) {
    // Cells are compared trimmed: the formatter pads table columns.
    const cells = readme
      .split("\n")
      .map((l) => l.split("|").map((c) => c.trim()))
      .find((c) => c[1] === `\`${v.name}\``);
    expect({ name: v.name, documented: cells !== undefined }).toEqual({ name: v.name, documented: true });
    const shownDefault = v.default === undefined ? "(unset)" : v.default === "" ? "(empty)" : `\`${v.default}\``;
    expect({ name: v.name, default: cells?.[2] }).toEqual({ name: v.name, default: shownDefault });
  }
});

test("the README's Quick start has exactly two commands: serve and test", () => {
  const quick = readme.slice(readme.indexOf("## Quick start"), readme.indexOf("## Configuration"));
  const commands = [...quick.matchAll(/```sh\n([^`]+)```/g)].map((m) => (m[1] as string).trim());
  expect(commands).toEqual(["npm start", "npm test"]);
  const pkg = JSON.parse(readFileSync(join(import.meta.dir, "..", "package.json"), "utf8"));
  expect(pkg.scripts.start).toBe("node scripts/bootstrap.mjs run serve");
  expect(pkg.scripts.test).toBe("node scripts/bootstrap.mjs test --timeout 30000");
});

test("the repository stands alone: no tracked file refers to a path outside it", () => {
  const root = join(import.meta.dir, "..");
  const files = Bun.spawnSync(["git", "ls-files"], { cwd: root }).stdout.toString().trim().split("\n");
  expect(files.length).toBeGreaterThan(100);
  const outside: string[] = [];
  for (const file of files) {
    if (!/\.(ts|md|json|yml|yaml|mjs|sh|toml)$|^\.ci\//.test(file) || file === "bun.lock") continue;
    const text = readFileSync(join(root, file), "utf8");
    // A sibling folder of the checkout (the workspace's specs and design notes) is not part of a clone.
    if (/(^|[\s`("'])\.\.\/(shared|spec|design)\//m.test(text)) outside.push(file);
  }
  expect(outside).toEqual([]);
});
