import { expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { VARIABLES } from "../runtime/config.ts";
import { childEnv, startTestServer, tempDir } from "./support/server.ts";

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

/** The shell blocks of the README's Quick start, in order. */
function quickStartBlocks(): string[] {
  const quick = readme.slice(readme.indexOf("## Quick start"), readme.indexOf("## Configuration"));
  return [...quick.matchAll(/```sh\n([^`]+)```/g)].map((m) => (m[1] as string).trim());
}

test("the README's Quick start: npm start, the newcomer's demo debate, npm test", () => {
  const blocks = quickStartBlocks();
  expect(blocks).toHaveLength(3);
  expect(blocks[0]).toBe("npm start");
  expect(blocks[2]).toBe("npm test");
  // The demo talks to the address npm start serves on and reads the token from its data dir.
  expect(blocks[1]).toContain("http://localhost:8080/api/auth/setup");
  expect(blocks[1]).toContain("$(cat .nomic/setup-token)");
  const pkg = JSON.parse(readFileSync(join(import.meta.dir, "..", "package.json"), "utf8"));
  expect(pkg.scripts.start).toBe("node scripts/bootstrap.mjs run serve");
  expect(pkg.scripts.test).toBe("node scripts/bootstrap.mjs test --timeout 30000");
  expect(pkg.scripts.serve).toBe("bun app/cli.ts serve");
});

/**
 * The demo block run as written, by bash, against what `npm start` ends in (`bun app/cli.ts serve`
 * with no operator token, on a fresh data dir at `.nomic` of the folder the commands run in). Only
 * the address changes: the test server listens on a free port, not 8080. The demo agents stream
 * faster than by default, which the commands do not see.
 */
test("the Quick start's demo commands claim the owner and get a finished debate from a fresh server", async () => {
  const folder = tempDir("aragora-quickstart-");
  const dataDir = join(folder, ".nomic");
  mkdirSync(dataDir);
  const server = await startTestServer({ dataDir, operatorToken: null, env: { ARAGORA_DEMO_TOKEN_DELAY_MS: "1" } });
  try {
    const block = quickStartBlocks()[1] as string;
    const script = `${block.replaceAll("http://localhost:8080", server.api)}\necho "TOKEN=$TOKEN"\necho "ID=$ID"\n`;
    const run = Bun.spawn(["bash", "-e", "-c", script], {
      cwd: folder,
      env: childEnv(),
      stdout: "pipe",
      stderr: "pipe",
    });
    const timer = setTimeout(() => run.kill(), 25_000);
    const [out, err, code] = await Promise.all([
      new Response(run.stdout).text(),
      new Response(run.stderr).text(),
      run.exited,
    ]);
    clearTimeout(timer);
    expect({ code, err }).toEqual({ code: 0, err: "" });
    // The last command printed the consensus, as node shows an object.
    expect(out).toMatch(
      /^\{\n {2}method: '(majority|supermajority|unanimous|confidence_weighted|judge)',\n {2}reached: (true|false),/,
    );
    const token = /^TOKEN=(.+)$/m.exec(out)?.[1] as string;
    const id = /^ID=(d-.+)$/m.exec(out)?.[1] as string;
    expect(token.split(".")).toHaveLength(3);
    // The setup token was spent: its file is gone, and the token is the owner's.
    expect(existsSync(join(dataDir, "setup-token"))).toBe(false);
    const auth = { authorization: `Bearer ${token}` };
    const me = (await (await fetch(`${server.api}/api/auth/me`, { headers: auth })).json()) as {
      user: { email: string };
      roles: string[];
    };
    expect({ email: me.user.email, roles: me.roles }).toEqual({ email: "you@example.com", roles: ["owner"] });
    const debate = await fetch(`${server.api}/api/debates/${id}`, { headers: auth });
    expect(debate.status).toBe(200);
    const record = (await debate.json()) as { status: string; question: string; agents: string[] };
    expect(record).toMatchObject({ status: "completed", question: "Should we adopt a four-day work week?" });
    expect(record.agents.every((a) => a.startsWith("demo:"))).toBe(true);
    // Without the token, the same read is refused.
    expect((await fetch(`${server.api}/api/debates/${id}`)).status).toBe(401);
  } finally {
    await server.stop();
    rmSync(folder, { recursive: true, force: true });
  }
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
