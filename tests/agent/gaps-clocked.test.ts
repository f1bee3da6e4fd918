/**
 * On the simulated clock: a retry wait ends at once when the turn's deadline passes or the agents
 * shut down (not only on cancel), and a crashed AgentActor restarted by its supervisor keeps its
 * circuit breaker (state, failures, last failure and the time left until half-open).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { AgentMsg } from "../../actors/agent/agent-actor.ts";
import { advance, settle } from "../../runtime/actor/index.ts";
import { type FakeProvider, startFakeProvider } from "../fake-provider/index.ts";
import { type AgentHarness, agentHarness, breakerGauge, settledTurn, until, waitArmed } from "./harness.ts";

let fake: FakeProvider;
beforeAll(async () => {
  fake = await startFakeProvider();
});
afterAll(async () => {
  await fake.stop();
});

const calls = (provider: string) => fake.requests.filter((r) => r.provider === provider).length;

describe("a retry wait is abortable by the turn's deadline and by shutdown", () => {
  test("the per-turn timeout ends a 30 s retry-after wait at its deadline, as a timeout, without another call", async () => {
    const h = await agentHarness({ fake, simulated: true });
    try {
      fake.reset();
      fake.script({ provider: "mistral" }, { status: 429, headers: { "retry-after": "30" } }, { text: "too late" });
      const clock = h.clock();
      // The debate's turn signal: aborted with a TimeoutError when the turn's time is up.
      const deadline = new AbortController();
      const turn = settledTurn(h, "mistral:mistral-large-latest", { signal: deadline.signal });
      await until(() => calls("mistral") === 1 && waitArmed(clock));
      await settle(h.system);
      expect((clock.nextDue() ?? 0) - clock.now()).toBe(30_000);
      clock.setTimeout(() => deadline.abort(new DOMException("The operation timed out.", "TimeoutError")), 5000);
      await advance(h.system, clock, 5000);
      const { error } = await turn;
      expect(error?.kind).toBe("timeout");
      // The retry's timer was disarmed, not left to fire: no wait shorter than an hour remains.
      expect(waitArmed(clock)).toBe(false);
      await advance(h.system, clock, 60_000);
      expect(calls("mistral")).toBe(1);
      expect(fake.pending()).toBe(1);
    } finally {
      await h.close();
    }
  });

  test("stopping the agents ends a 30 s retry-after wait at once as aborted, without another call", async () => {
    const h = await agentHarness({ fake, simulated: true });
    fake.reset();
    fake.script({ provider: "gemini" }, { status: 429, headers: { "retry-after": "30" } }, { text: "too late" });
    const clock = h.clock();
    const turn = settledTurn(h, "gemini:gemini-2.5-flash");
    await until(() => calls("gemini") === 1 && waitArmed(clock));
    await settle(h.system);
    const atWait = clock.now();
    await h.close();
    const { error } = await turn;
    expect(error?.kind).toBe("aborted");
    // No simulated time passed: the shutdown, not the wait's end, finished the turn.
    expect(clock.now()).toBe(atWait);
    expect(waitArmed(clock)).toBe(false);
    clock.advance(60_000);
    await Bun.sleep(20);
    expect(calls("gemini")).toBe(1);
  });
});

describe("supervision: a restarted agent actor keeps its circuit breaker", () => {
  let h: AgentHarness;
  const agent = "xai:grok-4";
  const path = `/system/agents/${agent}`;
  beforeAll(async () => {
    h = await agentHarness({
      fake,
      simulated: true,
      env: { ARAGORA_BREAKER_FAILURES: "2", ARAGORA_BREAKER_COOLDOWN_S: "60", ARAGORA_AGENT_MAX_ATTEMPTS: "1" },
    });
  });
  afterAll(async () => {
    await h.close();
  });
  const status = () => h.agents.status().find((a) => a.name === agent);

  test("an open breaker stays open after a crash, with its failures and the cooldown left", async () => {
    fake.reset();
    fake.script({ provider: "xai" }, { status: 500 }, { status: 500 });
    for (let i = 0; i < 2; i++) expect((await settledTurn(h, agent)).error?.kind).toBe("provider_error");
    await settle(h.system);
    expect(status()).toMatchObject({ state: "open", failures: 2, secondsUntilHalfOpen: 60 });
    await advance(h.system, h.clock(), 20_000);
    expect(status()?.secondsUntilHalfOpen).toBe(40);

    // Crash the actor with a message its receive cannot handle; its supervisor restarts it.
    const ref = h.system.lookup<AgentMsg>(path);
    expect(ref).toBeDefined();
    expect(h.system.tree(path)?.restarts).toBe(0);
    ref?.tell({ type: "turn", request: undefined } as unknown as AgentMsg);
    await settle(h.system);
    expect(h.system.tree(path)?.restarts).toBe(1);
    expect(h.system.lookup(path)).toBe(ref);

    const after = status();
    expect(after).toMatchObject({ state: "open", failures: 2, secondsUntilHalfOpen: 40 });
    expect(after?.lastFailure?.message).toContain("HTTP 500");
    expect(await breakerGauge(agent)).toBe(2);
    const before = calls("xai");
    expect((await settledTurn(h, agent)).error?.kind).toBe("circuit_open");
    expect(calls("xai")).toBe(before);

    // Half-open when the original cooldown ends (not a fresh 60 s from the restart).
    await advance(h.system, h.clock(), 39_000);
    expect(status()).toMatchObject({ state: "open", secondsUntilHalfOpen: 1 });
    await advance(h.system, h.clock(), 1000);
    expect(status()?.state).toBe("half_open");
    expect(await breakerGauge(agent)).toBe(1);
    fake.script({ provider: "xai" }, { text: "probe ok" });
    expect((await settledTurn(h, agent)).result?.text).toBe("probe ok");
    await settle(h.system);
    expect(status()).toMatchObject({ state: "closed", failures: 0 });
  });
});
