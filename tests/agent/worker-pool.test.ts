import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { CallOutcome, ModelCall } from "../../actors/agent/providers/client.ts";
import { classifyFailure } from "../../actors/agent/providers/failure.ts";
import { providerClients, providerSettings } from "../../actors/agent/providers/sdk-client.ts";
import { ProviderWorkerPool, ProviderWorkerStopped, workerClients } from "../../actors/agent/providers/worker-pool.ts";
import { loadConfig } from "../../runtime/config.ts";
import { createLogger } from "../../runtime/log.ts";
import { type FakeProvider, startFakeProvider } from "../fake-provider/index.ts";

// The provider clients on worker threads must be indistinguishable from the in-thread ones: same
// deltas in order, same outcome, same errors as classifyFailure sees them, abort by the signal.
let fake: FakeProvider;
let pool: ProviderWorkerPool;
let inThread: ReturnType<typeof providerClients>;
let onWorkers: ReturnType<typeof providerClients>;
const log = createLogger("ERROR");

beforeAll(async () => {
  fake = await startFakeProvider();
  const settings = providerSettings(loadConfig({ ...fake.env(), ARAGORA_LOCAL_MODELS: "" }));
  pool = new ProviderWorkerPool(settings, 2, log);
  inThread = providerClients(settings);
  onWorkers = workerClients(settings, pool);
});
afterAll(async () => {
  await pool.close();
  await fake.stop();
});

const MODELS: Record<string, string> = {
  openai: "gpt-4.1-mini",
  anthropic: "claude-sonnet-4-5",
  gemini: "gemini-2.5-flash",
  mistral: "mistral-large-latest",
};

async function run(
  clients: ReturnType<typeof providerClients>,
  provider: string,
  signal = new AbortController().signal,
): Promise<{ deltas: string[]; outcome?: CallOutcome; error?: unknown }> {
  const deltas: string[] = [];
  const call: ModelCall = {
    model: MODELS[provider] as string,
    system: "You debate.",
    prompt: "Which plan is best?",
    signal,
    onDelta: (d) => deltas.push(d),
    seed: { agent: provider, debateId: "d-1", round: 0, role: "proposer" },
  };
  try {
    return { deltas, outcome: await clients.get(provider)?.client.stream(call) };
  } catch (error) {
    return { deltas, error };
  }
}

describe("provider clients on worker threads", () => {
  test.each(Object.keys(MODELS))("%s: the same deltas, text and usage as on the main thread", async (provider) => {
    const reply = { text: "Plan B wins — naïve 🚀 costs less", usage: { input: 21, output: 9, cacheRead: 4 } };
    fake.script({ provider }, reply, reply);
    const here = await run(inThread, provider);
    const there = await run(onWorkers, provider);
    expect(here.error).toBeUndefined();
    expect(there.error).toBeUndefined();
    expect(there.deltas).toEqual(here.deltas);
    expect(there.deltas.join("")).toBe(reply.text);
    expect(there.outcome).toEqual(here.outcome as CallOutcome);
    expect(there.outcome?.usage.outputTokens).toBe(9);
  });

  test("an HTTP 429 arrives as the provider's APICallError: status, retry-after-ms and x-should-retry kept", async () => {
    const reply = { status: 429, headers: { "retry-after-ms": "1500", "x-should-retry": "true" } };
    fake.script({ provider: "openai" }, reply, reply);
    const signal = new AbortController().signal;
    const here = classifyFailure((await run(inThread, "openai")).error, { afterFirstToken: false, signal });
    const there = classifyFailure((await run(onWorkers, "openai")).error, { afterFirstToken: false, signal });
    expect(there).toEqual(here);
    expect(there.kind).toBe("rate_limited");
    expect(there.retryAfterMs).toBe(1500);
    expect(there.shouldRetry).toBe(true);
  });

  test("an error event inside a 200 stream is classified the same after the deltas before it", async () => {
    const reply = { text: "one two three four", errorAfterTokens: 2 };
    fake.script({ provider: "anthropic" }, reply, reply);
    const signal = new AbortController().signal;
    const here = await run(inThread, "anthropic");
    const there = await run(onWorkers, "anthropic");
    expect(there.deltas).toEqual(here.deltas);
    expect(there.deltas.length).toBe(2);
    expect(classifyFailure(there.error, { afterFirstToken: true, signal })).toEqual(
      classifyFailure(here.error, { afterFirstToken: true, signal }),
    );
  });

  test("aborting the call's signal rejects at once with its reason and stops the worker's stream", async () => {
    fake.script({ provider: "gemini" }, { text: "a b c d e f g h i j", tokenDelayMs: 100 });
    const abort = new AbortController();
    const pending = run(onWorkers, "gemini", abort.signal);
    await Bun.sleep(250);
    const reason = new DOMException("cancelled by test", "AbortError");
    const at = performance.now();
    abort.abort(reason);
    const result = await pending;
    expect(performance.now() - at).toBeLessThan(50);
    expect(result.error).toBe(reason);
    expect(result.deltas.length).toBeGreaterThan(0);
    expect(result.deltas.length).toBeLessThan(10);
    // The next turn on the same pool works.
    expect((await run(onWorkers, "gemini")).error).toBeUndefined();
  });

  test("closing the pool fails turns in flight with ProviderWorkerStopped, and later turns too", async () => {
    const settings = providerSettings(loadConfig({ ...fake.env(), ARAGORA_LOCAL_MODELS: "" }));
    const own = new ProviderWorkerPool(settings, 1, log);
    const clients = workerClients(settings, own);
    fake.script({ provider: "mistral" }, { text: "slow slow slow slow", tokenDelayMs: 200 });
    const pending = run(clients, "mistral");
    await Bun.sleep(100);
    await own.close();
    expect((await pending).error).toBeInstanceOf(ProviderWorkerStopped);
    expect((await run(clients, "mistral")).error).toBeInstanceOf(ProviderWorkerStopped);
    expect(own.threads).toBe(0);
  });
});
