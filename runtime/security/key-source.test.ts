import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { ConfigError, loadConfig } from "../config.ts";
import { createLogger } from "../log.ts";
import { registry } from "../metrics.ts";
import { generateKeyHex, KeyFormatError, keyFromHex, parseKeyFile } from "./encryption-keys.ts";
import { openKeySource } from "./key-source.ts";
import { readSecretFile, SecretFileError, writeSecretFile } from "./secret-file.ts";

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "aragora-keys-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A logger whose lines the test reads. */
function capturingLog() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger(
    "DEBUG",
    new Writable({
      write(chunk, _e, cb) {
        for (const text of String(chunk).split("\n")) if (text.trim() !== "") lines.push(JSON.parse(text));
        cb();
      },
    }),
  );
  return { log, lines, text: () => lines.map((l) => JSON.stringify(l)).join("\n") };
}

function keyFile(dir: string, lines: string[], mode = 0o600): string {
  const path = join(dir, "keys");
  writeFileSync(path, `${lines.join("\n")}\n`, { mode });
  chmodSync(path, mode);
  return path;
}

async function metric(line: string): Promise<number> {
  const found = (await registry.metrics()).split("\n").find((l) => l.startsWith(`${line} `));
  return found === undefined ? 0 : Number(found.slice(found.lastIndexOf(" ") + 1));
}

describe("parseKeyFile", () => {
  test("one key a line, newest first; comments, blank lines and CRLF are ignored", () => {
    const [a, b] = [generateKeyHex(), generateKeyHex()];
    const ring = parseKeyFile(`# rotated 2026-12-04\r\n\r\n${a}   # new\r\n  ${b}\r\n`, "/k");
    expect(ring.ids).toEqual([keyFromHex(a).id, keyFromHex(b).id]);
    expect(ring.active.id).toBe(keyFromHex(a).id);
  });

  test("a bad line is named path:line with the expected form, never shown", () => {
    const good = generateKeyHex();
    const bad = `${"7".repeat(63)}x`;
    let err: unknown;
    try {
      parseKeyFile(`# header\n${good}\n${bad}\n`, "/etc/aragora/keys");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KeyFormatError);
    const message = (err as Error).message;
    expect(message).toStartWith("/etc/aragora/keys:3: is not a key: expected 64 hex characters, got 64 characters");
    expect(message).toContain("one key a line");
    expect(message).not.toContain("7777777");
    expect(message).not.toContain(good.slice(0, 16));
  });

  test("a repeated key and an empty file are refused", () => {
    const key = generateKeyHex();
    expect(() => parseKeyFile(`${key}\n# x\n${key.toUpperCase()}\n`, "/k")).toThrow(
      /^\/k:3: repeats the key of line 1/,
    );
    expect(() => parseKeyFile("# only a comment\n\n", "/k")).toThrow("/k: holds no key");
  });
});

describe("secret files", () => {
  test("made 0600, once: a second writer gets false and the first's content stays", () => {
    const path = join(tempDir(), "nested", "secret");
    expect(writeSecretFile(path, "first\n")).toBe(true);
    expect(writeSecretFile(path, "second\n")).toBe(false);
    expect(readFileSync(path, "utf8")).toBe("first\n");
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  test("a file other users can read is refused, naming the mode and the fix, never the content", () => {
    const path = join(tempDir(), "open");
    writeFileSync(path, "s3cr3t-content\n");
    chmodSync(path, 0o644);
    expect(() => readSecretFile(path)).toThrow(SecretFileError);
    expect(() => readSecretFile(path)).toThrow(`${path} is readable by other users (mode 0644)`);
    expect(() => readSecretFile(path)).toThrow(`chmod 600 ${path}`);
    chmodSync(path, 0o400);
    expect(readSecretFile(path)).toBe("s3cr3t-content\n");
  });

  test("processes racing to make one secret all read the same one, never a half-written file", async () => {
    const path = join(tempDir(), "raced.secret");
    const module = join(import.meta.dir, "secret-file.ts");
    const script = `import { loadOrCreateSecretFile } from ${JSON.stringify(module)};
      const made = crypto.getRandomValues(new Uint8Array(4096)).toString();
      process.stdout.write(loadOrCreateSecretFile(${JSON.stringify(path)}, () => made).slice(0, 64));`;
    const runs = Array.from({ length: 6 }, () =>
      Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" }),
    );
    const outputs = await Promise.all(runs.map((p) => new Response(p.stdout).text()));
    expect(await Promise.all(runs.map((p) => p.exited))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(new Set(outputs).size).toBe(1);
    expect(outputs[0]?.length).toBe(64);
  }, 30_000);
});

describe("the key source", () => {
  const dev = (dataDir: string, env: Record<string, string> = {}) => loadConfig({ ARAGORA_DATA_DIR: dataDir, ...env });

  test("ARAGORA_ENCRYPTION_KEY: fixed; a reload is refused and says how to change keys", () => {
    const hex = generateKeyHex();
    const { log } = capturingLog();
    const keys = openKeySource(loadConfig({ ARAGORA_ENCRYPTION_KEY: hex }), {
      dataDir: tempDir(),
      log,
      forServer: true,
    });
    expect(keys.status()).toMatchObject({ kind: "env", variable: "ARAGORA_ENCRYPTION_KEY", reloadable: false });
    expect(keys.current()?.active.id).toBe(keyFromHex(hex).id);
    const result = keys.reload("request");
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toBe("not_reloadable");
    expect(!result.ok && result.error).toContain("ARAGORA_ENCRYPTION_KEY_FILE");
  });

  test("a key file: read at start, re-read on reload with the new key first, kept when the file breaks", async () => {
    const dir = tempDir();
    const [k1, k2] = [generateKeyHex(), generateKeyHex()];
    const path = keyFile(dir, ["# keys", k1]);
    const { log, text } = capturingLog();
    let clock = Date.UTC(2030, 0, 1);
    const keys = openKeySource(loadConfig({ ARAGORA_ENCRYPTION_KEY_FILE: path }), {
      dataDir: dir,
      log,
      forServer: true,
      now: () => new Date(clock),
    });
    const id1 = keyFromHex(k1).id;
    const id2 = keyFromHex(k2).id;
    expect(keys.status()).toMatchObject({
      kind: "file",
      path,
      variable: "ARAGORA_ENCRYPTION_KEY_FILE",
      reloadable: true,
      activeKeyId: id1,
      keyIds: [id1],
      lastReload: { trigger: "start", ok: true, error: null },
    });
    const heard: string[] = [];
    keys.onReload((r) => heard.push(r.status.activeKeyId as string));

    const okBefore = await metric('aragora_encryption_key_reloads_total{trigger="sighup",result="ok"}');
    keyFile(dir, [k2, k1]);
    clock += 1000;
    const reloaded = keys.reload("sighup");
    expect(reloaded).toMatchObject({ ok: true, added: [id2], removed: [], activeChanged: true });
    expect(keys.current()?.ids).toEqual([id2, id1]);
    expect(keys.status().loadedAt.getTime()).toBe(clock);
    expect(heard).toEqual([id2]);
    expect(await metric('aragora_encryption_key_reloads_total{trigger="sighup",result="ok"}')).toBe(okBefore + 1);

    // Broken: a bad second line, then a mode others can read, then no file. The keys stay each time.
    const failedBefore = await metric('aragora_encryption_key_reloads_total{trigger="request",result="failed"}');
    keyFile(dir, [k2, k1.slice(1)]);
    clock += 1000;
    const broken = keys.reload("request");
    expect(broken.ok).toBe(false);
    expect(!broken.ok && broken.reason).toBe("invalid");
    expect(!broken.ok && broken.error).toStartWith(`${path}:2: is not a key`);
    expect(keys.current()?.ids).toEqual([id2, id1]);
    expect(keys.status().lastReload).toMatchObject({ trigger: "request", ok: false });
    expect(keys.status().loadedAt.getTime()).toBe(clock - 1000);
    keyFile(dir, [k2, k1], 0o640);
    const open = keys.reload("request");
    expect(!open.ok && open.error).toContain("mode 0640");
    rmSync(path);
    const gone = keys.reload("request");
    expect(!gone.ok && gone.error).toContain(`${path} cannot be read (ENOENT)`);
    expect(keys.current()?.ids).toEqual([id2, id1]);
    expect(heard).toEqual([id2]);
    expect(await metric('aragora_encryption_key_reloads_total{trigger="request",result="failed"}')).toBe(
      failedBefore + 3,
    );

    // A reload may drop a key: the operator's choice.
    keyFile(dir, [k2]);
    expect(keys.reload("request")).toMatchObject({ ok: true, removed: [id1], activeChanged: false });
    expect(text()).not.toContain(k1.slice(0, 16));
    expect(text()).not.toContain(k2.slice(0, 16));
  });

  test("a key file that cannot be used at start is a ConfigError naming the variable, never a key", () => {
    const dir = tempDir();
    const good = generateKeyHex();
    const cases: Array<[string, RegExp]> = [];
    const malformed = keyFile(tempDir(), [good, "", good.slice(2)]);
    cases.push([malformed, new RegExp(`^ARAGORA_ENCRYPTION_KEY_FILE: ${malformed}:3: is not a key`)]);
    const tooOpen = keyFile(tempDir(), [good], 0o644);
    cases.push([tooOpen, /^ARAGORA_ENCRYPTION_KEY_FILE: .* is readable by other users \(mode 0644\)/]);
    cases.push([join(dir, "absent"), /^ARAGORA_ENCRYPTION_KEY_FILE: .*absent cannot be read \(ENOENT\)/]);
    for (const [path, pattern] of cases) {
      let err: unknown;
      try {
        openKeySource(loadConfig({ ARAGORA_ENCRYPTION_KEY_FILE: path }), {
          dataDir: dir,
          log: capturingLog().log,
          forServer: true,
        });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      const problem = (err as ConfigError).problems[0] as string;
      expect(problem).toMatch(pattern);
      expect(problem).not.toContain(good.slice(2, 18));
    }
  });

  test("both variables set is a ConfigError naming both", () => {
    expect(() =>
      loadConfig({ ARAGORA_ENCRYPTION_KEY: generateKeyHex(), ARAGORA_ENCRYPTION_KEY_FILE: "/etc/aragora/keys" }),
    ).toThrow(/ARAGORA_ENCRYPTION_KEY and ARAGORA_ENCRYPTION_KEY_FILE: are both set/);
  });

  test("development on SQLite: the server's own key, made once (0600) and warned about at every start", () => {
    const dataDir = tempDir();
    const first = capturingLog();
    const keys = openKeySource(dev(dataDir), { dataDir, log: first.log, forServer: true });
    const path = join(dataDir, "encryption.key");
    expect(keys.status()).toMatchObject({ kind: "dev_file", path, variable: null, reloadable: true });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const warning = first.lines.find((l) => String(l.msg).startsWith("Data will not be recoverable"));
    expect(String(warning?.msg)).toContain(path);
    expect(String(warning?.msg)).toContain("ARAGORA_ENCRYPTION_KEY");
    const again = capturingLog();
    const reopened = openKeySource(dev(dataDir, { ARAGORA_ENV: "test" }), { dataDir, log: again.log, forServer: true });
    expect(reopened.current()?.active.id).toBe(keys.current()?.active.id as string);
    expect(again.text()).toContain("Data will not be recoverable");
    // A command reads it quietly, and makes none where there is none.
    const quiet = capturingLog();
    expect(openKeySource(dev(dataDir), { dataDir, log: quiet.log, forServer: false }).current()?.active.id).toBe(
      keys.current()?.active.id as string,
    );
    expect(quiet.lines).toEqual([]);
    const empty = tempDir();
    expect(openKeySource(dev(empty), { dataDir: empty, log: quiet.log, forServer: false }).status().kind).toBe("none");
  });

  test("no development key in production or on PostgreSQL: none, with the unencrypted warning", async () => {
    const envs: Record<string, string>[] = [
      { ARAGORA_ENV: "production", ARAGORA_JWT_SECRET: "x".repeat(32) },
      { DATABASE_URL: "postgres://127.0.0.1:1/none" },
    ];
    for (const env of envs) {
      const dataDir = tempDir();
      const { log, lines } = capturingLog();
      const keys = openKeySource(dev(dataDir, env), { dataDir, log, forServer: true });
      expect(keys.status()).toMatchObject({ kind: "none", path: null, activeKeyId: null, keyIds: [] });
      expect(keys.current()).toBeUndefined();
      expect(statSync(dataDir).isDirectory()).toBe(true);
      expect(() => statSync(join(dataDir, "encryption.key"))).toThrow();
      expect(lines.some((l) => String(l.msg).startsWith("secrets are stored UNENCRYPTED"))).toBe(true);
      expect(await metric("aragora_encryption_unencrypted")).toBe(1);
    }
  });
});
