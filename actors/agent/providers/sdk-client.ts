/**
 * Provider clients built on the Vercel AI SDK's provider packages. Each turn calls the provider
 * model's `doStream` (the package speaks the wire protocol: request body, SSE parsing, usage
 * mapping, HTTP errors as APICallError) and reads its parts directly, without `streamText` on top:
 * for a plain system + prompt text turn streamText adds nothing we use (no tools, no steps, no
 * retries: the agent actor owns retries, fallback and the circuit breaker) and costs about four
 * times the CPU per token (`bun bench/debates.ts --only concurrency` reports the figure).
 *
 * Wire protocols: Anthropic Messages SSE (anthropic), Gemini streamGenerateContent SSE (gemini),
 * OpenAI chat-completions SSE for everything else (openai, mistral, openrouter, xai and local
 * servers). xAI goes through its OpenAI-compatible chat-completions endpoint because
 * @ai-sdk/xai 5 only speaks xAI's Responses API.
 *
 * @example
 * const client = sdkClient(createOpenAI({ apiKey, baseURL }).chat, { local: false });
 * await client.stream({ model: "gpt-4.1-mini", system, prompt, signal, onDelta, seed });
 */
// Types only: the SDK and each provider package are loaded on a provider's first turn, not at start
// (they cost ~100 ms of start-up, and a demo-only server never needs them).
import type { LanguageModelV4, LanguageModelV4Usage } from "@ai-sdk/provider";
import type { Config, LocalModelServer } from "../../../runtime/config.ts";
import type { CallOutcome, ModelCall, ProviderClient } from "./client.ts";
import { normaliseUsage } from "./usage.ts";

type ModelFactory = (model: string) => LanguageModelV4;
/** Loads the provider package and returns its model factory; called once, on the first turn. */
type ModelFactoryLoader = () => Promise<ModelFactory>;

/**
 * A client streaming through the model's `doStream`; HTTP errors (thrown by doStream) and error
 * parts inside a 200 stream are thrown so the caller can classify them.
 *
 * @example
 * sdkClient(async () => {
 *   const { createAnthropic } = await import("@ai-sdk/anthropic");
 *   return (m) => createAnthropic({ apiKey }).languageModel(m);
 * });
 */
export function sdkClient(load: ModelFactoryLoader): ProviderClient {
  const models = new Map<string, LanguageModelV4>();
  let factory: Promise<ModelFactory> | undefined;
  const modelFor = async (name: string) => {
    let model = models.get(name);
    if (model === undefined) {
      factory ??= load();
      model = (await factory)(name);
      models.set(name, model);
    }
    return model;
  };
  return {
    simulated: false,
    async stream(call: ModelCall): Promise<CallOutcome> {
      const model = await modelFor(call.model);
      let text = "";
      let usage: LanguageModelV4Usage | undefined;
      let cancel: (() => Promise<void>) | undefined;
      try {
        const { stream } = await model.doStream({
          prompt: [
            { role: "system", content: call.system },
            { role: "user", content: [{ type: "text", text: call.prompt }] },
          ],
          maxOutputTokens: call.maxOutputTokens,
          abortSignal: call.signal,
        });
        const reader = stream.getReader();
        cancel = () => reader.cancel();
        for (;;) {
          const next = await reader.read();
          if (next.done) break;
          const part = next.value;
          switch (part.type) {
            case "text-delta":
              if (part.delta.length > 0) {
                text += part.delta;
                call.onDelta(part.delta);
              }
              break;
            case "finish":
              usage = part.usage;
              break;
            case "error":
              throw part.error;
          }
        }
      } catch (err) {
        throwIfAborted(call.signal);
        throw err;
      } finally {
        // Cancelling an unfinished stream closes the HTTP response instead of leaving it to the GC.
        cancel?.().catch(() => {});
      }
      throwIfAborted(call.signal);
      const outcome: CallOutcome = { text, usage: normaliseUsage(usage, { ...call, text }) };
      const reported = (usage?.raw as { cost?: unknown } | undefined)?.cost;
      if (typeof reported === "number") outcome.reportedCostUsd = reported;
      return outcome;
    },
  };
}

/** An aborted turn ends with its signal's reason, whatever the stream did on the way out. */
function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason ?? new DOMException("The turn was aborted", "AbortError");
}

/** What the provider clients need from the configuration: keys, base URLs, local servers. */
const PROVIDER_SETTINGS = [
  "anthropicApiKey",
  "anthropicBaseUrl",
  "openaiApiKey",
  "openaiBaseUrl",
  "geminiApiKey",
  "geminiBaseUrl",
  "mistralApiKey",
  "mistralBaseUrl",
  "xaiApiKey",
  "xaiBaseUrl",
  "openrouterApiKey",
  "openrouterBaseUrl",
  "localModels",
] as const satisfies readonly (keyof Config)[];

export type ProviderSettings = Pick<Config, (typeof PROVIDER_SETTINGS)[number]>;

/**
 * The provider settings out of the whole configuration (plain data: it is posted to the provider
 * worker threads).
 *
 * @example const settings = providerSettings(config);
 */
export function providerSettings(config: Config): ProviderSettings {
  // Plain data only: structured clone copies it to the worker threads.
  return structuredClone(Object.fromEntries(PROVIDER_SETTINGS.map((k) => [k, config[k]]))) as ProviderSettings;
}

/** A provider's model factory loader with `apiKey` (undefined: none sent). */
type LoaderOf = (config: ProviderSettings, apiKey: string | undefined) => ModelFactoryLoader;

/** The built-in providers that take a key, with how their clients are made. */
const BUILT_IN: Record<string, { key: (config: ProviderSettings) => string | undefined; loader: LoaderOf }> = {
  anthropic: {
    key: (c) => c.anthropicApiKey,
    loader: (c, apiKey) => async () => {
      const { createAnthropic } = await import("@ai-sdk/anthropic");
      const p = createAnthropic({ apiKey, baseURL: c.anthropicBaseUrl });
      return (m) => p.languageModel(m);
    },
  },
  openai: {
    key: (c) => c.openaiApiKey,
    loader: (c, apiKey) => async () => {
      const { createOpenAI } = await import("@ai-sdk/openai");
      const p = createOpenAI({ apiKey, baseURL: c.openaiBaseUrl });
      return (m) => p.chat(m);
    },
  },
  gemini: {
    key: (c) => c.geminiApiKey,
    loader: (c, apiKey) => async () => {
      const { createGoogleGenerativeAI } = await import("@ai-sdk/google");
      const p = createGoogleGenerativeAI({ apiKey, baseURL: c.geminiBaseUrl });
      return (m) => p.languageModel(m);
    },
  },
  mistral: {
    key: (c) => c.mistralApiKey,
    loader: (c, apiKey) => async () => {
      const { createMistral } = await import("@ai-sdk/mistral");
      const p = createMistral({ apiKey, baseURL: c.mistralBaseUrl });
      return (m) => p.languageModel(m);
    },
  },
  xai: { key: (c) => c.xaiApiKey, loader: (c, apiKey) => compatible("xai", c.xaiBaseUrl, apiKey) },
  openrouter: {
    key: (c) => c.openrouterApiKey,
    loader: (c, apiKey) => compatible("openrouter", c.openrouterBaseUrl, apiKey),
  },
};

/**
 * The providers an organisation may set a key of its own for: the built-in ones that take a key,
 * then the local servers of ARAGORA_LOCAL_MODELS (their keys, for servers behind a gateway).
 *
 * @example keyedProviders(settings) // ["anthropic", "openai", "gemini", "mistral", "xai", "openrouter", "ollama"]
 */
export function keyedProviders(config: Pick<ProviderSettings, "localModels">): string[] {
  return [...Object.keys(BUILT_IN), ...config.localModels.map((s) => s.name)];
}

/**
 * The providers this server can call (built-in plus local servers), keyed by provider name, each
 * streaming on the calling thread.
 *
 * @example const clients = providerClients(providerSettings(config));
 */
export function providerClients(
  config: ProviderSettings,
): Map<string, { client: ProviderClient; configured: boolean; local: boolean }> {
  const clients = new Map<string, { client: ProviderClient; configured: boolean; local: boolean }>();
  for (const [name, { key, loader }] of Object.entries(BUILT_IN)) {
    const apiKey = key(config);
    clients.set(name, {
      client: sdkClient(loader(config, apiKey ?? "")),
      configured: apiKey !== undefined,
      local: false,
    });
  }
  // Local servers take no key; the SDK sends none when apiKey is undefined.
  for (const server of config.localModels) clients.set(server.name, localClient(server, undefined));
  return clients;
}

/**
 * One provider's client calling with `apiKey` instead of the server's (an organisation's own key),
 * streaming on the calling thread; undefined for a provider that takes no key (demo, unknown).
 *
 * @example const entry = providerClientWithKey(settings, "openai", orgKey.secret);
 */
export function providerClientWithKey(
  config: ProviderSettings,
  provider: string,
  apiKey: string,
): { client: ProviderClient; configured: boolean; local: boolean } | undefined {
  const builtIn = BUILT_IN[provider];
  if (builtIn !== undefined)
    return { client: sdkClient(builtIn.loader(config, apiKey)), configured: true, local: false };
  const server = config.localModels.find((s) => s.name === provider);
  return server === undefined ? undefined : localClient(server, apiKey);
}

function compatible(name: string, baseURL: string, apiKey: string | undefined): ModelFactoryLoader {
  return async () => {
    const { createOpenAICompatible } = await import("@ai-sdk/openai-compatible");
    const p = createOpenAICompatible({ name, baseURL, apiKey, includeUsage: true });
    return (m) => p.chatModel(m);
  };
}

function localClient(server: LocalModelServer, apiKey: string | undefined) {
  return { client: sdkClient(compatible(server.name, server.baseUrl, apiKey)), configured: true, local: true };
}
