/**
 * Through the API a playbook is a shipped name or an uploaded document, never a server path
 * `{"playbook":{"name": ...}}` with a path, a `../` walk, an absolute path to a
 * shipped playbook or a YAML file elsewhere is refused without reading the file, without saying
 * whether it exists, without its YAML keys and without the install directory.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, startTestServer, type TestServer, tempDir } from "../support/server.ts";

const TOKEN = "test-admin-token-0123456789";
const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
let server: TestServer;
let elsewhere: string;

beforeAll(async () => {
  server = await startTestServer({ env: { ARAGORA_API_TOKEN: TOKEN } });
  elsewhere = tempDir("aragora-playbook-");
  // A valid playbook outside the shipped ones, with keys that must not leak.
  writeFileSync(
    join(elsewhere, "secret-plan.yml"),
    "name: secret-plan\nsecret_key_one: 1\nsteps:\n  - id: a\n    action: sleep\n    with: { duration: 1ms }\n    timeout: 1s\n",
  );
});
afterAll(async () => {
  expect(await server.stop()).toBe(0);
  rmSync(elsewhere, { recursive: true, force: true });
});

const start = (playbook: unknown) =>
  fetch(`${server.api}/api/ops/runs`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ playbook, dry_run: true }),
  });

test("paths, walks and files elsewhere: 404 or 422, revealing nothing about the file system", async () => {
  const names = [
    "/etc/passwd",
    "/etc/does-not-exist",
    "../../../../etc/passwd",
    "../playbooks/backup",
    "backup/../backup",
    join(ROOT, "ops/playbooks/backup.yml"),
    join(elsewhere, "secret-plan.yml"),
    join(elsewhere, "secret-plan"),
    "package.json",
    "README.md",
    "./backup.yml",
    "Backup",
    "backup.yml.bak",
  ];
  const answers = new Map<number, string[]>();
  for (const name of names) {
    const res = await start({ name });
    // The caller's own input may be quoted back; nothing else may name a server path.
    const text = (await res.text()).replaceAll(JSON.stringify(name).slice(1, -1), "<name>");
    expect({ name, status: res.status }).toEqual({ name, status: res.status === 404 ? 404 : 422 });
    answers.set(res.status, [...(answers.get(res.status) ?? []), name]);
    expect(text).not.toContain(ROOT);
    expect(text).not.toContain("root:");
    expect(text).not.toContain("secret_key_one");
    expect(text).not.toMatch(/ENOENT|EACCES|no such file|not a file|existsSync/i);
    expect(text).not.toContain("/ops/playbooks");
  }
  // A file that exists and one that does not are answered alike.
  const status = async (name: string) => (await start({ name })).status;
  expect(await status("/etc/passwd")).toBe(await status("/etc/does-not-exist"));
  expect(answers.get(404) ?? []).not.toContain("/etc/passwd");
});

test("a name that is not shipped: 404 listing the shipped ones", async () => {
  const res = await start({ name: "no-such-playbook" });
  expect(res.status).toBe(404);
  const body = (await res.json()) as { error: string; message: string };
  expect(body.error).toBe("not_found");
  expect(body.message).toContain("backup");
  expect(body.message).toContain("{source, file}");
  expect(body.message).not.toContain(ROOT);
});

test("a shipped playbook by name (backup, backup.yml) runs, and the run names it without the install path", async () => {
  for (const name of ["backup", "backup.yml"]) {
    const res = await start({ name });
    expect(res.status).toBe(202);
    const { run_id } = (await res.json()) as { run_id: string };
    const detail = (await (await fetch(`${server.api}/api/ops/runs/${run_id}`, { headers: auth })).json()) as {
      run: { playbook: string; file: string };
    };
    expect(detail.run).toMatchObject({ playbook: "backup", file: "ops/playbooks/backup.yml" });
  }
});

test("an uploaded document still runs, whatever its file label", async () => {
  const source = "name: uploaded\nsteps:\n  - id: a\n    action: sleep\n    with: { duration: 1ms }\n    timeout: 1s\n";
  const res = await start({ source, file: "/etc/passwd" });
  expect(res.status).toBe(202);
});
