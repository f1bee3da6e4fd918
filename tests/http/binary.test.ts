import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type FakeProvider, startFakeProvider } from "../fake-provider/index.ts";
import { ROOT, startTestServer } from "../support/server.ts";

// The production binary (`bun run build`: dist/aragora and its worker bundles in dist/workers)
// runs a whole debate against real provider wire protocols: the provider streams and the WAL
// checkpoints run on worker threads, which a compiled executable loads from those bundles.
const BINARY = join(ROOT, "dist", "aragora");
const BUNDLES = ["provider-worker.js", "wal-checkpoint-worker.js"].map((f) => join(ROOT, "dist", "workers", f));
const built = existsSync(BINARY) && BUNDLES.every((f) => existsSync(f));
if (!built) {
  if (process.env.CI === "true")
    throw new Error("dist/aragora or its worker bundles are missing: .ci/run builds them first");
  console.warn("skipping the binary test: run `bun run build` first");
}

let fake: FakeProvider;
beforeAll(async () => {
  fake = await startFakeProvider();
});
afterAll(async () => {
  await fake.stop();
});

test.skipIf(!built)("the built binary runs a debate through its provider worker threads", async () => {
  const server = await startTestServer({ command: [BINARY], env: { ...fake.env(), ARAGORA_PROVIDER_WORKERS: "2" } });
  try {
    const res = await server.fetch(`/api/debates`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        question: "Does the binary stream from workers?",
        agents: ["openai:gpt-4.1-mini", "anthropic:claude-sonnet-4-5", "gemini:gemini-2.5-flash"],
        rounds: 1,
      }),
    });
    expect(res.status).toBe(201);
    const { debate_id } = (await res.json()) as { debate_id: string };
    let record: { status: string; stop_reason?: string } = { status: "running" };
    for (let i = 0; i < 100 && record.status === "running"; i++) {
      await Bun.sleep(100);
      record = (await (await server.fetch(`/api/debates/${debate_id}`)).json()) as typeof record;
    }
    expect(record.status).toBe("completed");
    expect(fake.requests.filter((r) => r.provider === "openai").length).toBeGreaterThanOrEqual(3);
    expect(server.logs().filter((l) => l.level === "ERROR" || l.level === "CRITICAL")).toEqual([]);
  } finally {
    expect(await server.stop()).toBe(0);
  }
});

// `bun run build` puts the console beside the binary (dist/web): the binary serves it from there.
const CONSOLE_MANIFEST = join(ROOT, "dist", "web", "manifest.json");
test.skipIf(!built || !existsSync(CONSOLE_MANIFEST))(
  "the built binary serves the web console built beside it",
  async () => {
    const server = await startTestServer({ command: [BINARY] });
    try {
      const page = await fetch(`${server.api}/signin`);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
      const entry = /src="(\/assets\/main-[^"]+\.js)"/.exec(await page.text())?.[1];
      expect(entry).toBeDefined();
      const script = await fetch(`${server.api}${entry}`);
      expect(script.status).toBe(200);
      expect(script.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect((await script.text()).length).toBeGreaterThan(1000);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  },
);
