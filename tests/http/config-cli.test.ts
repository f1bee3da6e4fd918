import { describe, expect, test } from "bun:test";
import { runCli, startTestServer, tempDir } from "../support/server.ts";

describe("bad configuration stops the process with exit 2 and a clear message", () => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    [
      "log level",
      { ARAGORA_LOG_LEVEL: "LOUD" },
      /ARAGORA_LOG_LEVEL="LOUD".*expected DEBUG \| INFO \| WARNING \| ERROR/,
    ],
    [
      "api port",
      { ARAGORA_API_PORT: "abc" },
      /ARAGORA_API_PORT="abc": must be a well-formed integer.*expected an integer 0-65535/,
    ],
    ["wildcard origin", { ARAGORA_ALLOWED_ORIGINS: "*" }, /ARAGORA_ALLOWED_ORIGINS="\*".*wildcard.*refused/],
    [
      "production without JWT secret",
      { ARAGORA_ENV: "production" },
      /ARAGORA_JWT_SECRET: is required when ARAGORA_ENV=production/,
    ],
  ];
  for (const [name, env, pattern] of cases) {
    test(name, async () => {
      const { code, stderr, stdout } = await runCli(["serve"], {
        ARAGORA_DATA_DIR: tempDir(),
        ARAGORA_API_PORT: "0",
        ARAGORA_WS_PORT: "0",
        ...env,
      });
      expect(code).toBe(2);
      expect(stderr).toMatch(pattern);
      expect(stdout).not.toContain("listening");
    });
  }

  test("a short JWT secret is refused without echoing it", async () => {
    const secret = "tooshort-secret";
    const { code, stderr } = await runCli(["serve"], { ARAGORA_ENV: "production", ARAGORA_JWT_SECRET: secret });
    expect(code).toBe(2);
    expect(stderr).toContain("ARAGORA_JWT_SECRET: must be at least length 32");
    expect(stderr).not.toContain(secret);
  });

  test("several bad variables are all reported at once", async () => {
    const { code, stderr } = await runCli(["serve"], { ARAGORA_LOG_LEVEL: "LOUD", ARAGORA_WS_PORT: "70000" });
    expect(code).toBe(2);
    expect(stderr).toContain("ARAGORA_LOG_LEVEL");
    expect(stderr).toContain("ARAGORA_WS_PORT");
  });

  test("a bad --api-port flag is a usage error", async () => {
    const { code, stderr } = await runCli(["serve", "--api-port", "abc"]);
    expect(code).toBe(2);
    expect(stderr).toContain("--api-port must be an integer 0-65535");
  });
});

describe("command line", () => {
  test("every command has --help (exit 0)", async () => {
    const top = await runCli(["--help"]);
    expect(top.code).toBe(0);
    const commands = [...top.stdout.matchAll(/^ {2}(\w[\w-]*) {2,}/gm)].map((m) => m[1] as string);
    expect(commands).toEqual(expect.arrayContaining(["serve", "migrate"]));
    const helps = await Promise.all(commands.map((name) => runCli([name, "--help"])));
    commands.forEach((name, i) => {
      const help = helps[i] as Awaited<ReturnType<typeof runCli>>;
      expect({ name, code: help.code }).toEqual({ name, code: 0 });
      // `aragora ops` is the `ops` CLI itself, which names itself in its usage.
      expect(help.stdout).toContain(name === "ops" ? "usage: ops " : `usage: aragora ${name}`);
    });
  }, 30_000);

  test("an unknown command or flag exits 2 with usage", async () => {
    const unknown = await runCli(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const flag = await runCli(["serve", "--bogus"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("--bogus");
  });

  test("flags override ARAGORA_API_PORT / ARAGORA_WS_PORT, and it logs where it listens", async () => {
    const server = await startTestServer({ env: { ARAGORA_API_PORT: "1", ARAGORA_WS_PORT: "2" } });
    try {
      expect(server.apiPort).toBeGreaterThan(1024);
      expect(server.wsPort).toBeGreaterThan(1024);
      const line = await server.waitForLog((l) => String(l.msg).startsWith("aragora listening"));
      expect(line.api).toBe(`http://localhost:${server.apiPort}`);
      expect(line.ws).toBe(`ws://localhost:${server.wsPort}/ws`);
      expect((await server.fetch(`/api/health`)).status).toBe(200);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  test("a second server on the same data dir is refused while the first runs", async () => {
    const server = await startTestServer();
    try {
      const second = await runCli(["serve", "--api-port", "0", "--ws-port", "0"], { ARAGORA_DATA_DIR: server.dataDir });
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(`in use by another Aragora server (pid ${server.proc.pid}`);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  test("a second server on another server's port fails instead of sharing the port", async () => {
    const first = await startTestServer();
    try {
      const res = await runCli(["serve", "--api-port", String(first.apiPort), "--ws-port", "0"], {
        ARAGORA_DATA_DIR: tempDir(),
      });
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/in use/i);
    } finally {
      expect(await first.stop()).toBe(0);
    }
  });

  test("a taken port fails fast with a message naming it", async () => {
    const blocker = Bun.serve({ port: 0, fetch: () => new Response("x") });
    try {
      const res = await runCli(["serve", "--api-port", String(blocker.port), "--ws-port", "0"], {
        ARAGORA_DATA_DIR: tempDir(),
      });
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/in use/i);
    } finally {
      blocker.stop(true);
    }
  });
});
