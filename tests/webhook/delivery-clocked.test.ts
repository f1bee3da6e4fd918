/**
 * Webhook delivery on the simulated clock: the webhooks feature in process (its routes on the
 * shell's app, a real SQLite store, an actor system whose clock only moves when told), sending
 * over real HTTP to a receiver the test scripts. Timing is asserted exactly, without sleeping:
 *
 * - retries wait min(base * 2^attempt, max) (1 s, 2 s, 4 s, 8 s; jitter from a random source that
 *   answers 0) and never a millisecond less;
 * - after 5 consecutive failures the breaker opens: the delivery due at +16 s waits, nothing is
 *   attempted until the 60 s cooldown ends, then exactly one probe goes; it fails and, the retries
 *   spent, the delivery is dead-lettered (listed with its last error and attempts, in the metrics),
 *   the gauge reads 1;
 * - a dead letter retried through the route waits for the breaker's next probe, is delivered with
 *   the same delivery id, and closes the breaker (gauge 0);
 * - Retry-After is honoured over the shorter backoff; a 3xx is a failure and is not followed;
 * - 410 Gone disables the endpoint and says why; a test event to it is refused (409); enabling it
 *   again clears the reason and sends what waited;
 * - every attempt is recorded (status, latency, the start of the body, the error).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { webhooksFeature } from "../../actors/webhook/feature.ts";
import { type ActorSystem, advance, type SimulatedClock, settle } from "../../runtime/actor/index.ts";
import { guardedSender } from "../../runtime/http/guarded-sender.ts";
import { outboundPolicyOf } from "../../runtime/http/outbound-guard.ts";
import { registry } from "../../runtime/metrics.ts";
import { type ClockedFeatures, startClockedFeatures, T0 } from "../support/clocked-features.ts";
import { type Answer, type Receiver, startReceiver } from "./receiver.ts";

interface Delivery {
  delivery_id: string;
  state: string;
  attempts: number;
  last_error: string | null;
  last_status: number | null;
  next_attempt_at: string | null;
  history: { attempt: number; status: number | null; error: string | null; response_body: string | null }[];
}

describe("webhook delivery on the simulated clock", () => {
  let env: ClockedFeatures;
  let clock: SimulatedClock;
  let system: ActorSystem;
  let audited: string[];
  let rx: Receiver;

  beforeAll(async () => {
    rx = startReceiver();
    env = await startClockedFeatures(async ({ ctx, config, audit, now }) => [
      await webhooksFeature(ctx, {
        outbox: { take: async () => [], remove: async () => {}, onCommitted: () => () => {} },
        audit,
        // The receiver is on loopback, which ARAGORA_OUTBOUND_ALLOW_LOOPBACK allows.
        send: guardedSender({ policy: outboundPolicyOf(config) }),
        now,
        random: () => 0,
      }),
    ]);
    ({ clock, system, audited } = env);
  });

  afterAll(async () => {
    await env?.stop();
    rx?.stop();
  });

  const call = <T>(method: string, path: string, body?: unknown, org?: string) => env.call<T>(method, path, body, org);

  async function createEndpoint(path: string): Promise<string> {
    const res = await call<{ id: string; secret: string }>("POST", "/api/webhooks", { url: `${rx.url}${path}` });
    expect(res.status).toBe(201);
    await settle(system);
    return res.body.id;
  }

  async function deliveriesOf(id: string): Promise<Delivery[]> {
    return (await call<{ deliveries: Delivery[] }>("GET", `/api/webhooks/${id}/deliveries`)).body.deliveries;
  }

  /** Polls (real time: the attempt is real I/O) until the delivery has `attempts` recorded, then lets the actor settle. */
  async function attempted(id: string, deliveryId: string, attempts: number): Promise<Delivery> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const d = (await deliveriesOf(id)).find((x) => x.delivery_id === deliveryId);
      if (d !== undefined && d.attempts >= attempts && d.state !== "IN_PROGRESS") {
        await settle(system);
        return d;
      }
      if (Date.now() > deadline) throw new Error(`delivery ${deliveryId} has not made ${attempts} attempts`);
      await Bun.sleep(5);
    }
  }

  /** Requests to `path` so far. */
  const hits = (path: string) => rx.received.filter((r) => r.path === `/hook${path}`);

  /** Moves the clock by `ms` and gives real I/O a moment: no request may arrive that was not due. */
  async function quietFor(ms: number, path: string): Promise<void> {
    const before = hits(path).length;
    await advance(system, clock, ms);
    await Bun.sleep(50);
    await settle(system);
    expect(hits(path).length).toBe(before);
  }

  const gauge = async (endpoint: string) => {
    const m = new RegExp(`aragora_webhook_circuit_breaker_state\\{endpoint="${endpoint}"\\} (\\d)`).exec(
      await registry.metrics(),
    );
    return m ? Number(m[1]) : undefined;
  };

  test("backoff 1 s, 2 s, 4 s, 8 s; the breaker opens at 5 failures, one probe after 60 s; dead letter; retried, delivered, closed", async () => {
    const path = "/flaky";
    let healthy = false;
    rx.script((_n, r) =>
      r.path === `/hook${path}` && !healthy ? { status: 500, body: "receiver down" } : { status: 200, body: "ok" },
    );
    const id = await createEndpoint(path);
    const queued = await call<{ delivery_id: string }>("POST", `/api/webhooks/${id}/test`);
    expect(queued.status).toBe(202);
    const dlv = queued.body.delivery_id;

    await rx.waitFor(1);
    let d = await attempted(id, dlv, 1);
    expect(d).toMatchObject({ state: "RETRYING", attempts: 1, last_status: 500, last_error: "HTTP 500" });
    expect(d.history[0]).toMatchObject({ attempt: 1, status: 500, response_body: "receiver down" });

    for (const [attempt, delay] of [
      [2, 1000],
      [3, 2000],
      [4, 4000],
      [5, 8000],
    ] as const) {
      await quietFor(delay - 1, path);
      const sent = rx.received.length;
      await advance(system, clock, 1);
      await rx.waitFor(sent + 1);
      d = await attempted(id, dlv, attempt);
      expect(d.attempts).toBe(attempt);
    }
    // Five consecutive failures: the breaker is open, and the retry due at +16 s waits for it.
    expect(await gauge(id)).toBe(1);
    const open = await call<{ circuit_breaker: { state: string; failures: number } }>("GET", `/api/webhooks/${id}`);
    expect(open.body.circuit_breaker).toMatchObject({ state: "open", failures: 5 });
    await quietFor(60_000 - 1, path);
    expect(hits(path).length).toBe(5);
    // The cooldown ends: exactly one probe. It fails; five retries spent: dead-lettered.
    await advance(system, clock, 1);
    await rx.waitFor(6);
    d = await attempted(id, dlv, 6);
    expect(d).toMatchObject({ state: "DEAD_LETTERED", attempts: 6, next_attempt_at: null, last_error: "HTTP 500" });
    expect(d.history.map((h) => h.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await gauge(id)).toBe(1);

    const dead = await call<{ dead_letters: { delivery_id: string; last_error: string; attempts: number }[] }>(
      "GET",
      "/api/webhooks/dead-letters?limit=100",
    );
    expect(dead.body.dead_letters).toContainEqual(
      expect.objectContaining({ delivery_id: dlv, last_error: "HTTP 500", attempts: 6, event_type: "test" }),
    );
    // Another organisation sees none of it, and cannot retry it.
    expect(
      (await call<{ dead_letters: unknown[] }>("GET", "/api/webhooks/dead-letters", undefined, "o-2")).body,
    ).toEqual({ dead_letters: [] });
    expect((await call("POST", `/api/webhooks/dead-letters/${dlv}/retry`, undefined, "o-2")).status).toBe(404);

    // Retried by hand: it waits for the breaker's next probe (60 s after it reopened), then is delivered.
    healthy = true;
    const retried = await call<{ delivery_id: string; state: string }>(
      "POST",
      `/api/webhooks/dead-letters/${dlv}/retry`,
    );
    expect(retried).toEqual({ status: 202, body: { delivery_id: dlv, state: "PENDING" } });
    await settle(system);
    await quietFor(60_000 - 1, path);
    await advance(system, clock, 1);
    await rx.waitFor(7);
    d = await attempted(id, dlv, 7);
    expect(d).toMatchObject({ state: "DELIVERED", attempts: 7, last_status: 200, last_error: null });
    // The same delivery id on every attempt: in the body and the headers.
    const ids = hits(path).map((r) => [r.headers["webhook-id"], JSON.parse(r.body).delivery_id]);
    expect(new Set(ids.flat())).toEqual(new Set([dlv]));
    expect(hits(path).map((r) => r.headers["x-webhook-attempt"])).toEqual(["1", "2", "3", "4", "5", "6", "7"]);
    expect(await gauge(id)).toBe(0);
    const metrics = await call<Record<string, number | null>>("GET", "/api/webhooks/metrics");
    expect(metrics.body).toMatchObject({ dead_lettered: 0, retries_pending: 0, circuits_open: 0 });
    expect(metrics.body.delivered).toBeGreaterThanOrEqual(1);
    expect(audited).toContain("webhook.dead_letter_retried");
  });

  test("Retry-After is honoured over the shorter backoff; a redirect is a failure and is not followed", async () => {
    const path = "/busy";
    rx.script((n, r): Answer => {
      if (r.path === `/hook${path}` && hits(path).length === 1)
        return { status: 429, headers: { "retry-after": "120" } };
      if (r.path === `/hook${path}` && hits(path).length === 2) {
        return { status: 302, headers: { location: `${rx.url}/elsewhere` } };
      }
      return { status: 200, body: `ok ${n}` };
    });
    const id = await createEndpoint(path);
    const dlv = (await call<{ delivery_id: string }>("POST", `/api/webhooks/${id}/test`)).body.delivery_id;
    let d = await attempted(id, dlv, 1);
    expect(d).toMatchObject({ state: "RETRYING", last_status: 429 });
    expect(Date.parse(d.next_attempt_at as string) - (T0 + clock.now())).toBe(120_000);
    await quietFor(120_000 - 1, path);
    const sent = rx.received.length;
    await advance(system, clock, 1);
    await rx.waitFor(sent + 1);
    d = await attempted(id, dlv, 2);
    // The 302 came back as it was: a failed attempt, nothing sent to where it pointed.
    expect(d).toMatchObject({ state: "RETRYING", last_status: 302, last_error: "HTTP 302" });
    expect(rx.received.filter((r) => r.path.endsWith("/elsewhere"))).toEqual([]);
    await quietFor(2000 - 1, path);
    await advance(system, clock, 1);
    d = await attempted(id, dlv, 3);
    expect(d.state).toBe("DELIVERED");
  });

  test("410 Gone disables the endpoint and says so; enabled again, it sends what waited", async () => {
    const path = "/gone";
    let gone = true;
    rx.script((_n, r) => (r.path === `/hook${path}` && gone ? { status: 410, body: "no such hook" } : { status: 204 }));
    const id = await createEndpoint(path);
    const dlv = (await call<{ delivery_id: string }>("POST", `/api/webhooks/${id}/test`)).body.delivery_id;
    const d = await attempted(id, dlv, 1);
    expect(d).toMatchObject({ state: "DEAD_LETTERED", last_status: 410 });
    expect(d.last_error).toContain("410 Gone");
    const endpoint = await call<{ enabled: boolean; disabled_reason: string | null }>("GET", `/api/webhooks/${id}`);
    expect(endpoint.body.enabled).toBe(false);
    expect(endpoint.body.disabled_reason).toContain("410 Gone");
    const refused = await call<{ error: string; message: string }>("POST", `/api/webhooks/${id}/test`);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe("webhook_disabled");

    gone = false;
    const enabled = await call<{ enabled: boolean; disabled_reason: string | null }>("PATCH", `/api/webhooks/${id}`, {
      enabled: true,
    });
    expect(enabled.body).toMatchObject({ enabled: true, disabled_reason: null });
    await settle(system);
    const again = await call<{ delivery_id: string }>("POST", `/api/webhooks/dead-letters/${dlv}/retry`);
    expect(again.status).toBe(202);
    expect((await attempted(id, dlv, 2)).state).toBe("DELIVERED");
  });

  test("another organisation neither sees nor touches an endpoint", async () => {
    const id = await createEndpoint("/private");
    for (const [method, path, body] of [
      ["GET", `/api/webhooks/${id}`, undefined],
      ["PATCH", `/api/webhooks/${id}`, { description: "mine now" }],
      ["DELETE", `/api/webhooks/${id}`, undefined],
      ["POST", `/api/webhooks/${id}/test`, undefined],
      ["POST", `/api/webhooks/${id}/rotate-secret`, {}],
      ["GET", `/api/webhooks/${id}/deliveries`, undefined],
      ["POST", `/api/webhooks/${id}/recover`, { since: "2020-01-01T00:00:00Z" }],
    ] as const) {
      const res = await call<{ error: string }>(method, path, body, "o-2");
      expect({ method, path, status: res.status, error: res.body.error }).toEqual({
        method,
        path,
        status: 404,
        error: "not_found",
      });
    }
    expect((await call<{ webhooks: unknown[] }>("GET", "/api/webhooks", undefined, "o-2")).body.webhooks).toEqual([]);
    expect(
      (await call<{ webhooks: { id: string }[] }>("GET", "/api/webhooks")).body.webhooks.map((w) => w.id),
    ).toContain(id);
  });
});
