#!/usr/bin/env node
// Gets a fresh machine that has only Node.js and npm to a working Aragora checkout:
// installs the pinned Bun from the npm registry when it is absent (into .tools/, no root needed),
// installs dependencies from the committed lockfile, then runs `bun <args>`.
//
//   node scripts/bootstrap.mjs run serve   -> bun run serve
//   node scripts/bootstrap.mjs test        -> bun test
//
// Plain Node.js on purpose: it runs before Bun exists.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const pinned = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).packageManager.replace(/^bun@/, "");
const localBun = join(
  root,
  ".tools",
  "node_modules",
  "bun",
  "bin",
  process.platform === "win32" ? "bun.exe" : "bun.exe",
);

function versionOf(cmd) {
  const r = spawnSync(cmd, ["--version"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

function findBun() {
  if (process.env.BUN_BIN && versionOf(process.env.BUN_BIN) === pinned) return process.env.BUN_BIN;
  if (versionOf("bun") === pinned) return "bun";
  if (existsSync(localBun) && versionOf(localBun) === pinned) return localBun;
  return null;
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", cwd: root, ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

let bun = findBun();
if (!bun) {
  process.stderr.write(`bootstrap: installing bun@${pinned} from the npm registry into .tools/\n`);
  const status = run("npm", [
    "install",
    "--no-save",
    "--no-audit",
    "--no-fund",
    "--prefix",
    join(root, ".tools"),
    `bun@${pinned}`,
  ]);
  if (status !== 0) process.exit(status);
  // npm may skip bun's postinstall (install-scripts policy); its installer then has to run by hand.
  if (versionOf(localBun) !== pinned) {
    run("node", ["install.js"], { cwd: join(root, ".tools", "node_modules", "bun") });
  }
  bun = findBun();
  if (!bun) {
    process.stderr.write(`bootstrap: bun@${pinned} could not be installed\n`);
    process.exit(1);
  }
}

const installStatus = run(bun, ["install", "--frozen-lockfile"]);
if (installStatus !== 0) process.exit(installStatus);

// Later commands (package.json scripts, tests that spawn the server) find this Bun first.
const env = { ...process.env };
// npm links .tools/node_modules/.bin/bun to the binary, so `bun` in package.json scripts resolves.
if (bun !== "bun") env.PATH = `${join(root, ".tools", "node_modules", ".bin")}:${dirname(bun)}:${process.env.PATH}`;
process.exit(run(bun, process.argv.slice(2), { env }));
