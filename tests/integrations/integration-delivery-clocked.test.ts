/**
 * Integration deliveries on the simulated clock, through the delivery engine webhooks share: the
 * integrations and webhooks features in process (their routes on the shell's app, a real SQLite
 * store, an actor system whose clock only moves when told), a debate's end made into a delivery by
 * the fan-out, and the fake Slack (tests/support/fake-chat.ts) over real HTTP, answering 500s:
 *
 * - retries wait 1 s, 2 s, 4 s, 8 s; after 5 consecutive failures the integration's breaker opens
 *   (GET /api/integrations/:id says so, the gauge reads 1) and nothing reaches Slack until the
 *   60 s cooldown ends; then exactly one probe goes; it fails, and the retries spent, the delivery
 *   is dead-lettered (GET /api/integrations/dead-letters, its attempts in /deliveries);
 * - the dead letter, retried through POST /api/integrations/dead-letters/:id/retry, waits for the
 *   breaker's next probe, is delivered to Slack and closes the breaker;
 * - another organisation neither sees nor retries it; the webhooks' dead-letter routes do not
 *   list or take an integration's delivery.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { OutboxEvent } from "../../actors/debate/event-outbox.ts";
import { integrationsFeature } from "../../actors/integrations/feature.ts";
import { webhooksFeature } from "../../actors/webhook/feature.ts";
import { type ActorSystem, advance, type SimulatedClock, settle } from "../../runtime/actor/index.ts";
import { guardedSender } from "../../runtime/http/guarded-sender.ts";
import { outboundPolicyOf } from "../../runtime/http/outbound-guard.ts";
import { registry } from "../../runtime/metrics.ts";
import { type ClockedFeatures, startClockedFeatures, T0 } from "../support/clocked-features.ts";
import { type FakeChat, type SlackMessage, startFakeSlack } from "../support/fake-chat.ts";

interface Delivery {
  delivery_id: string;
  integration_id: string;
  debate_id: string;
  state: string;
  attempts: number;
  last_error: string | null;
  last_status: number | null;
  next_attempt_at: string | null;
  history: { attempt: number; status: number | null; error: string | null; response_body: string | null }[];
}

describe("integration delivery on the simulated clock", () => {
  /** The debates' committed events, as the debates feature's outbox would hand them over. */
  const outbox: OutboxEvent[] = [];
  const committed: (() => void)[] = [];
  let env: ClockedFeatures;
  let clock: SimulatedClock;
  let system: ActorSystem;
  let slack: FakeChat<SlackMessage>;

  beforeAll(async () => {
    slack = await startFakeSlack();
    env = await startClockedFeatures(async ({ ctx, config, audit, now }) => {
      // Slack is on loopback, which ARAGORA_OUTBOUND_ALLOW_LOOPBACK allows.
      const send = guardedSender({ policy: outboundPolicyOf(config) });
      const integrations = await integrationsFeature(ctx, {
        audit,
        send,
        history: {
          byId: async () => ({ question: "Ship the release?", config: { agents: ["claude", "gpt"] } }),
          events: async () => [],
        },
        now,
        random: () => 0,
      });
      const webhooks = await webhooksFeature(ctx, {
        outbox: {
          take: async (limit) => outbox.slice(0, limit),
          remove: async (rows) => {
            for (const r of rows) {
              const i = outbox.findIndex((o) => o.debateId === r.debateId && o.seq === r.seq);
              if (i >= 0) outbox.splice(i, 1);
            }
          },
          onCommitted: (listener) => {
            committed.push(listener);
            return () => {};
          },
        },
        audit,
        send,
        sinks: [integrations.sink],
        now,
        random: () => 0,
      });
      return [integrations, webhooks];
    });
    ({ clock, system } = env);
  });

  afterAll(async () => {
    await env?.stop();
    await slack?.stop();
  });

  const call = <T>(method: string, path: string, body?: unknown, org?: string) => env.call<T>(method, path, body, org);

  /** A debate of o-1 ends: its debate_end is committed and the fan-out woken. */
  function debateEnds(debateId: string): void {
    outbox.push({
      debateId,
      seq: 9,
      type: "debate_end",
      orgId: "o-1",
      payload: JSON.stringify({ ts: new Date(T0).toISOString(), data: { status: "completed", rounds_completed: 3 } }),
    });
    for (const wake of committed) wake();
  }

  async function deliveriesOf(id: string): Promise<Delivery[]> {
    const res = await call<{ deliveries: Delivery[] }>("GET", `/api/integrations/${id}/deliveries`);
    expect(res.status).toBe(200);
    return res.body.deliveries;
  }

  /** Polls (real time: the attempt is real I/O) until a delivery has `attempts` recorded, then lets the actor settle. */
  async function attempted(id: string, attempts: number): Promise<Delivery> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const d = (await deliveriesOf(id))[0];
      if (d !== undefined && d.attempts >= attempts && d.state !== "IN_PROGRESS") {
        await settle(system);
        return d;
      }
      if (Date.now() > deadline) throw new Error(`the delivery to ${id} has not made ${attempts} attempts`);
      await Bun.sleep(5);
    }
  }

  /** Moves the clock by `ms` and gives real I/O a moment: no request may reach Slack that was not due. */
  async function quietFor(ms: number): Promise<void> {
    const before = slack.received.length;
    await advance(system, clock, ms);
    await Bun.sleep(50);
    await settle(system);
    expect(slack.received.length).toBe(before);
  }

  /** Moves the clock by 1 ms, onto an attempt that is due, and waits for it to reach Slack. */
  async function nextAttempt(): Promise<void> {
    const sent = slack.received.length;
    await advance(system, clock, 1);
    await slack.waitFor(sent + 1);
  }

  const gauge = async (integration: string) => {
    const m = new RegExp(`aragora_integration_circuit_breaker_state\\{integration="${integration}"\\} (\\d)`).exec(
      await registry.metrics(),
    );
    return m ? Number(m[1]) : undefined;
  };

  test("the breaker opens after 5 failures against Slack; one probe after 60 s; the dead letter is retried and delivered", async () => {
    slack.failAlways(slack.faults.serverError());
    const created = await call<{ id: string }>("POST", "/api/integrations", {
      kind: "slack",
      name: "alerts",
      webhook_url: slack.webhookUrl,
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    await settle(system);

    debateEnds("d-flaky");
    await slack.waitFor(1);
    let d = await attempted(id, 1);
    expect(d).toMatchObject({
      integration_id: id,
      debate_id: "d-flaky",
      state: "RETRYING",
      attempts: 1,
      last_status: 500,
    });
    expect(d.history[0]).toMatchObject({ attempt: 1, status: 500, response_body: "rollup_error" });
    const dlv = d.delivery_id;
    expect(dlv).toMatch(/^idl-/);

    for (const [attempt, delay] of [
      [2, 1000],
      [3, 2000],
      [4, 4000],
      [5, 8000],
    ] as const) {
      await quietFor(delay - 1);
      await nextAttempt();
      d = await attempted(id, attempt);
      expect(d.attempts).toBe(attempt);
    }
    // Five consecutive failures: the breaker is open, and the retry due at +16 s waits for it.
    const open = await call<{ circuit_breaker: { state: string; failures: number } | null }>(
      "GET",
      `/api/integrations/${id}`,
    );
    expect(open.body.circuit_breaker).toMatchObject({ state: "open", failures: 5 });
    expect(await gauge(id)).toBe(1);
    await quietFor(60_000 - 1);
    expect(slack.received.length).toBe(5);

    // The cooldown ends: exactly one probe. It fails; five retries spent: dead-lettered.
    await nextAttempt();
    d = await attempted(id, 6);
    expect(d).toMatchObject({ state: "DEAD_LETTERED", attempts: 6, next_attempt_at: null, last_status: 500 });
    expect(d.history.map((h) => [h.attempt, h.status])).toEqual([1, 2, 3, 4, 5, 6].map((n) => [n, 500]));
    expect(slack.received.length).toBe(6);

    const dead = await call<{ dead_letters: Delivery[] }>("GET", "/api/integrations/dead-letters?limit=100");
    expect(dead.status).toBe(200);
    expect(dead.body.dead_letters).toEqual([
      expect.objectContaining({ delivery_id: dlv, integration_id: id, attempts: 6, state: "DEAD_LETTERED" }),
    ]);
    // Another organisation sees none of it, and cannot retry it; nor do the webhooks' routes.
    expect(
      (await call<{ dead_letters: unknown[] }>("GET", "/api/integrations/dead-letters", undefined, "o-2")).body,
    ).toEqual({ dead_letters: [] });
    expect((await call("POST", `/api/integrations/dead-letters/${dlv}/retry`, undefined, "o-2")).status).toBe(404);
    expect((await call<{ dead_letters: unknown[] }>("GET", "/api/webhooks/dead-letters")).body).toEqual({
      dead_letters: [],
    });
    expect((await call("POST", `/api/webhooks/dead-letters/${dlv}/retry`)).status).toBe(422);
    // A bad id is a 422 naming the parameter, not a 500.
    const bad = await call<{ details: { field: string }[] }>("POST", "/api/integrations/dead-letters/dlv-x/retry");
    expect(bad.status).toBe(422);
    expect(bad.body.details[0]?.field).toContain("delivery_id");

    // Slack recovers. Retried by hand: the delivery waits for the breaker's next probe (60 s after
    // it reopened), then is delivered, with the same id, and the breaker closes.
    slack.failAlways(undefined);
    const retried = await call<{ delivery_id: string; state: string }>(
      "POST",
      `/api/integrations/dead-letters/${dlv}/retry`,
    );
    expect(retried).toEqual({ status: 202, body: { delivery_id: dlv, state: "PENDING" } });
    expect(env.audited).toContain("integration.dead_letter_retried");
    await settle(system);
    await quietFor(60_000 - 1);
    await nextAttempt();
    d = await attempted(id, 7);
    expect(d).toMatchObject({ delivery_id: dlv, state: "DELIVERED", attempts: 7, last_status: 200, last_error: null });
    expect(d.history.at(-1)).toMatchObject({ attempt: 7, status: 200, error: null });
    expect(slack.messages).toHaveLength(1);
    expect(JSON.stringify(slack.messages[0])).toContain("Ship the release?");
    expect((await call<{ dead_letters: unknown[] }>("GET", "/api/integrations/dead-letters")).body).toEqual({
      dead_letters: [],
    });
    const closed = await call<{ circuit_breaker: { state: string; failures: number } | null }>(
      "GET",
      `/api/integrations/${id}`,
    );
    expect(closed.body.circuit_breaker).toMatchObject({ state: "closed", failures: 0 });
    expect(await gauge(id)).toBe(0);
  });

  test("removing an integration removes its deliveries and their attempts", async () => {
    const created = await call<{ id: string }>("POST", "/api/integrations", {
      kind: "slack",
      name: "to-remove",
      webhook_url: slack.webhookUrl,
    });
    const id = created.body.id;
    await settle(system);
    const before = slack.received.length;
    debateEnds("d-removed");
    await slack.waitFor(before + 2);
    await attempted(id, 1);
    expect((await call("DELETE", `/api/integrations/${id}`)).status).toBe(200);
    expect((await call("GET", `/api/integrations/${id}/deliveries`)).status).toBe(404);
    const db = new Database(join(env.dataDir, "core.db"), { readonly: true });
    try {
      const deliveriesLeft = db.query("select count(*) as n from webhook_deliveries where endpoint_id = ?").get(id);
      expect(deliveriesLeft).toEqual({ n: 0 });
      const orphanAttempts = db
        .query(
          "select count(*) as n from webhook_attempts where delivery_id not in (select id from webhook_deliveries)",
        )
        .get();
      expect(orphanAttempts).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });

  test("the OpenAPI document the server serves lists the integrations' delivery routes with their permission", async () => {
    const res = await env.app.handle(new Request("http://localhost/swagger/json"));
    const doc = (await res.json()) as { paths: Record<string, Record<string, Record<string, unknown>>> };
    for (const [method, path] of [
      ["get", "/api/integrations/{id}/deliveries"],
      ["get", "/api/integrations/dead-letters"],
      ["post", "/api/integrations/dead-letters/{delivery_id}/retry"],
      ["get", "/api/webhooks/{id}/deliveries"],
      ["get", "/api/webhooks/dead-letters"],
      ["post", "/api/webhooks/dead-letters/{delivery_id}/retry"],
    ] as const) {
      const op = doc.paths[path]?.[method];
      expect({ path, method, permission: op?.["x-aragora-permission"] }).toEqual({
        path,
        method,
        permission: path.startsWith("/api/integrations") ? "integrations.manage" : "webhooks.manage",
      });
      expect(op?.summary).toBeString();
    }
  });
});
