/**
 * Integration deliveries survive kill -9 (SQLite): debates end while the fake Slack fails every
 * post, so their outcomes wait in the store (or still in the debates' outbox); the server is
 * killed with SIGKILL and started again on the same data directory; once Slack answers again,
 * every debate's outcome arrives, each from exactly one delivery.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { generateKeyHex } from "../../runtime/security/encryption-keys.ts";
import { type FakeChat, type SlackMessage, startFakeSlack } from "../support/fake-chat.ts";
import { startTestServer, type TestServer, tempDir } from "../support/server.ts";

setDefaultTimeout(90_000);

describe("integration deliveries and kill -9", () => {
  const dataDir = tempDir();
  const env = {
    ARAGORA_ENCRYPTION_KEY: generateKeyHex(),
    ARAGORA_DEMO_TOKEN_DELAY_MS: "0",
    ARAGORA_OUTBOUND_ALLOW_LOOPBACK: "true",
  };
  let server: TestServer | undefined;
  let slack: FakeChat<SlackMessage> | undefined;

  afterAll(async () => {
    await server?.stop();
    await slack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("every ended debate's outcome reaches Slack after a restart, once per debate", async () => {
    slack = await startFakeSlack();
    const fake = slack;
    fake.failAlways(fake.faults.serverError());
    const first = await startTestServer({ dataDir, env });
    server = first;
    const made = await first.fetch("/api/integrations", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ kind: "slack", name: "crash", webhook_url: fake.webhookUrl }),
    });
    expect(made.status).toBe(201);
    const integration = (await made.json()) as { id: string };
    const debates: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await first.fetch("/api/debates", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ question: `Crash question ${i}?`, agents: ["demo:alice", "demo:bob"], rounds: 1 }),
      });
      expect(res.status).toBe(201);
      debates.push(((await res.json()) as { debate_id: string }).debate_id);
    }
    // Some posts were tried (and refused); none accepted.
    await fake.waitFor(2);
    first.signal("SIGKILL");
    expect(await first.exited).not.toBe(0);
    expect(fake.messages).toEqual([]);

    fake.failAlways(undefined);
    const second = await startTestServer({ dataDir, env });
    server = second;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const arrived = debates.filter((id) => fake.messages.some((m) => JSON.stringify(m).includes(id)));
      if (arrived.length === debates.length) break;
      if (Date.now() > deadline) throw new Error(`only ${arrived.length} of ${debates.length} outcomes arrived`);
      await Bun.sleep(100);
    }
    const list = (await (await second.fetch(`/api/integrations/${integration.id}/deliveries`)).json()) as {
      deliveries: { debate_id: string; state: string }[];
    };
    // One delivery per debate however often it was tried, each delivered.
    expect(list.deliveries.map((d) => d.debate_id).sort()).toEqual([...debates].sort());
    expect(new Set(list.deliveries.map((d) => d.state))).toEqual(new Set(["DELIVERED"]));
  });
});
