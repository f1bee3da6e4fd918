/**
 * Organisations' own provider keys in the agent registry, against the fake provider (the real
 * wire protocols), in process: a turn of an organisation with its own key calls the provider with
 * it (every protocol, on the calling thread and on the provider worker threads), any other turn
 * with the server's; breakers are per credential (an organisation's wrong key opens only its own,
 * a failing server key does not stop an organisation's own, a new key starts closed); a key that
 * cannot be opened fails the turn and never falls back to the server's key; a provider without a
 * server key runs on an organisation's; an organisation's OpenRouter key is its fallback; and the
 * key is scrubbed out of a provider's error message.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type AgentRegistry, createAgentRegistry } from "../../actors/agent/directory.ts";
import { fingerprintOf, type OrgKeySource, OrgKeyUnreadable } from "../../actors/agent/org-provider-keys.ts";
import type { AgentTurnError, TurnRequest, TurnResult } from "../../actors/agent/turn.ts";
import { ActorSystem } from "../../runtime/actor/index.ts";
import { loadConfig } from "../../runtime/config.ts";
import { createLogger } from "../../runtime/log.ts";
import { type FakeProvider, startFakeProvider, TEST_KEYS } from "../fake-provider/index.ts";
import { AGENTS } from "./harness.ts";

/** Organisations' keys in memory, as the registry asks for them. */
class MemoryKeys implements OrgKeySource {
  readonly keys = new Map<string, Map<string, string>>();
  readonly unreadable = new Set<string>();
  set(orgId: string, provider: string, secret: string): void {
    const own = this.keys.get(orgId) ?? new Map<string, string>();
    own.set(provider, secret);
    this.keys.set(orgId, own);
  }
  async providers(orgId: string): Promise<ReadonlySet<string>> {
    return new Set(this.keys.get(orgId)?.keys() ?? []);
  }
  async key(orgId: string, provider: string) {
    if (this.unreadable.has(`${orgId}/${provider}`)) {
      throw new OrgKeyUnreadable(provider, new Error("Key not found: it was encrypted with key kdeadbeef0000"));
    }
    const secret = this.keys.get(orgId)?.get(provider);
    return secret === undefined ? undefined : { secret, fingerprint: fingerprintOf(secret) };
  }
}

const LOCAL = { ollama: "llama3.1" };
let fake: FakeProvider;
beforeAll(async () => {
  fake = await startFakeProvider();
});
afterAll(async () => {
  await fake.stop();
});

/** A registry over `keys`; `base` is the providers' environment (default: every one with a server key). */
function registryWith(keys: OrgKeySource, env: Record<string, string>, base = fake.env({ local: LOCAL })) {
  const system = new ActorSystem({ metricsIntervalMs: 0, random: () => 0.5 });
  const config = loadConfig({
    ...base,
    ARAGORA_DEMO_TOKEN_DELAY_MS: "0",
    ARAGORA_AGENT_RETRY_BASE_MS: "4",
    ...env,
  });
  const agents = createAgentRegistry({ config, system, log: createLogger("ERROR"), orgKeys: keys });
  return {
    agents,
    async close() {
      await agents.close();
      await system.shutdown();
    },
  };
}

const request = (orgId?: string): TurnRequest => ({
  debateId: "d-keys",
  orgId,
  round: 0,
  role: "proposer",
  system: "You are a careful debater.",
  prompt: "Question: whose key is this?",
  signal: new AbortController().signal,
});

function settled(agents: AgentRegistry, agent: string, orgId?: string) {
  return agents.runTurn(agent, request(orgId)).then(
    (result) => ({ result, error: undefined }),
    (error: AgentTurnError) => ({ result: undefined as TurnResult | undefined, error }),
  );
}

/** Whether any header of the request carries `key` (each protocol sends it in its own header). */
const carries = (r: { headers: Record<string, string> }, key: string) =>
  Object.values(r.headers).some((v) => v.includes(key));
const last = (provider: string) => fake.requests.filter((r) => r.provider === provider).at(-1);

describe.each([
  ["on the calling thread", "0"],
  ["on the provider worker threads", "1"],
])("%s", (_where, workers) => {
  const keys = new MemoryKeys();
  let h: ReturnType<typeof registryWith>;
  beforeAll(() => {
    h = registryWith(keys, { ARAGORA_WORKERS: workers });
    for (const provider of Object.keys(AGENTS)) keys.set("o-acme", provider, `acme-${provider}-own-key-${workers}`);
  });
  afterAll(() => h.close());

  test.each(Object.keys(AGENTS))(
    "%s: the organisation's key for its turns, the server's for the others",
    async (provider) => {
      fake.reset();
      const agent = AGENTS[provider] as string;
      const own = `acme-${provider}-own-key-${workers}`;
      const mine = await settled(h.agents, agent, "o-acme");
      expect(mine.error).toBeUndefined();
      const ownRequest = last(provider);
      expect(ownRequest && carries(ownRequest, own)).toBe(true);

      const theirs = await settled(h.agents, agent, "o-other");
      expect(theirs.error).toBeUndefined();
      const serverRequest = last(provider);
      expect(serverRequest === ownRequest).toBe(false);
      expect(serverRequest && carries(serverRequest, own)).toBe(false);
      const serverKey = TEST_KEYS[provider];
      if (serverKey !== undefined) {
        expect(serverRequest && carries(serverRequest, serverKey)).toBe(true);
        expect(ownRequest && carries(ownRequest, serverKey)).toBe(false);
      }
    },
  );

  test("a replaced key is used from the next turn", async () => {
    fake.reset();
    keys.set("o-acme", "openai", `acme-openai-second-key-${workers}`);
    await settled(h.agents, AGENTS.openai as string, "o-acme");
    expect(carries(last("openai") as never, `acme-openai-second-key-${workers}`)).toBe(true);
  });
});

describe("circuit breakers are per credential", () => {
  const keys = new MemoryKeys();
  let h: ReturnType<typeof registryWith>;
  const agent = "openai:gpt-4.1-mini";
  const WRONG = "sk-wrong-key-of-bad-org-1234";
  beforeAll(() => {
    h = registryWith(keys, { ARAGORA_BREAKER_FAILURES: "1", ARAGORA_AGENT_MAX_ATTEMPTS: "1", ARAGORA_WORKERS: "0" });
    keys.set("o-bad", "openai", WRONG);
    keys.set("o-own", "openai", "sk-good-key-of-own-org-5678");
  });
  afterAll(() => h.close());
  const breaker = () => h.agents.status().find((a) => a.name === agent);

  test("an organisation's wrong key opens its own breaker only; its error message never shows the key", async () => {
    fake.reset();
    // The provider refuses the key and, as OpenAI does, quotes it back.
    fake.script(
      { provider: "openai", model: "gpt-4.1-mini" },
      {
        status: 401,
        errorBody: { error: { message: `Incorrect API key provided: ${WRONG}`, type: "invalid_request_error" } },
      },
    );
    const bad = await settled(h.agents, agent, "o-bad");
    expect(bad.error?.kind).toBe("provider_error");
    expect(bad.error?.message).toContain("[redacted]");
    expect(bad.error?.message).not.toContain(WRONG);
    // The breaker every organisation without its own key shares is untouched...
    expect(breaker()).toMatchObject({ state: "closed", failures: 0 });
    const other = await settled(h.agents, agent, "o-other");
    expect(other.error).toBeUndefined();
    expect(carries(last("openai") as never, TEST_KEYS.openai as string)).toBe(true);
    // ...while the bad organisation's own is open: its next turn is refused without a call.
    const calls = fake.requests.length;
    const again = await settled(h.agents, agent, "o-bad");
    expect(again.error?.kind).toBe("circuit_open");
    expect(again.error?.message).toContain("the organisation's own key's circuit breaker open");
    expect(fake.requests.length).toBe(calls);
    // A new key starts with a closed breaker.
    keys.set("o-bad", "openai", "sk-fixed-key-of-bad-org-9012");
    const fixed = await settled(h.agents, agent, "o-bad");
    expect(fixed.error).toBeUndefined();
    expect(carries(last("openai") as never, "sk-fixed-key-of-bad-org-9012")).toBe(true);
  });

  test("a failing server key opens the shared breaker, not an organisation's own", async () => {
    fake.reset();
    fake.script({ provider: "openai", model: "gpt-4.1-mini" }, { status: 401 });
    const shared = await settled(h.agents, agent, "o-other");
    expect(shared.error?.kind).toBe("provider_error");
    expect(breaker()?.state).toBe("open");
    const refused = await settled(h.agents, agent);
    expect(refused.error?.kind).toBe("circuit_open");
    const own = await settled(h.agents, agent, "o-own");
    expect(own.error).toBeUndefined();
    expect(carries(last("openai") as never, "sk-good-key-of-own-org-5678")).toBe(true);
  });
});

describe("keys that are missing or cannot be read", () => {
  const keys = new MemoryKeys();
  let h: ReturnType<typeof registryWith>;
  beforeAll(() => {
    // No server key for Mistral: only an organisation's own runs its agents.
    const base = fake.env({ local: LOCAL, providers: ["anthropic", "openai", "gemini", "xai"] });
    h = registryWith(keys, { MISTRAL_BASE_URL: fake.baseUrl("mistral"), ARAGORA_WORKERS: "0" }, base);
    keys.set("o-mistral", "mistral", "mistral-own-key-of-the-org");
    keys.set("o-locked", "openai", "never-opened-key");
    keys.unreadable.add("o-locked/openai");
  });
  afterAll(() => h.close());

  test("a provider without a server key runs on an organisation's own; without one the turn names both ways", async () => {
    fake.reset();
    expect(await h.agents.providersWithOwnKeys("o-mistral")).toEqual(new Set(["mistral"]));
    const own = await settled(h.agents, AGENTS.mistral as string, "o-mistral");
    expect(own.error).toBeUndefined();
    expect(carries(last("mistral") as never, "mistral-own-key-of-the-org")).toBe(true);
    const none = await settled(h.agents, AGENTS.mistral as string, "o-other");
    expect(none.error?.kind).toBe("not_configured");
    expect(none.error?.message).toContain("set MISTRAL_API_KEY on the server");
    expect(none.error?.message).toContain("PUT /api/org/provider-keys/mistral");
  });

  test("a key that cannot be opened fails the turn, naming why; the server's key is not used instead", async () => {
    fake.reset();
    const locked = await settled(h.agents, AGENTS.openai as string, "o-locked");
    expect(locked.error?.kind).toBe("not_configured");
    expect(locked.error?.message).toContain("the organisation's openai key cannot be decrypted");
    expect(locked.error?.message).toContain("kdeadbeef0000");
    expect(fake.requests).toHaveLength(0);
  });
});

test("an organisation's OpenRouter key is its fallback when the server has none", async () => {
  const keys = new MemoryKeys();
  keys.set("o-or", "openrouter", "sk-or-own-key-of-the-org");
  const h = registryWith(keys, { ARAGORA_WORKERS: "0" });
  try {
    fake.reset();
    // Quota exhausted on the server's xAI key: the turn moves to OpenRouter, with the org's key.
    // (xAI: the fallback metrics of the other agents are counted by tests/agent/clocked.test.ts.)
    fake.script({ provider: "xai", model: "grok-4" }, { status: 402 });
    const moved = await settled(h.agents, AGENTS.xai as string, "o-or");
    expect(moved.error).toBeUndefined();
    expect(moved.result?.fallback?.to).toBe("openrouter:x-ai/grok-4");
    expect(carries(last("openrouter") as never, "sk-or-own-key-of-the-org")).toBe(true);
    // Another organisation has no OpenRouter key, and neither has the server: no fallback.
    fake.script({ provider: "xai", model: "grok-4" }, { status: 402 });
    const stuck = await settled(h.agents, AGENTS.xai as string, "o-other");
    expect(stuck.error?.kind).toBe("quota");
  } finally {
    await h.close();
  }
});
