/**
 * Provider clients built on the Vercel AI SDK. The SDK's own retries are off (maxRetries: 0)
 * because the agent actor owns retries, fallback and the circuit breaker.
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
import type { LanguageModel, LanguageModelUsage } from "ai";
import type { Config, LocalModelServer } from "../../../runtime/config.ts";
import type { CallOutcome, ModelCall, ProviderClient } from "./client.ts";
import { normaliseUsage } from "./usage.ts";

type ModelFactory = (model: string) => LanguageModel;
/** Loads the provider package and returns its model factory; called once, on the first turn. */
type ModelFactoryLoader = () => Promise<ModelFactory>;

/**
 * A client streaming through `streamText`; stream errors (HTTP errors included, which streamText
 * reports as error parts) are thrown so the caller can classify them.
 *
 * @example
 * sdkClient(async () => {
 *   const { createAnthropic } = await import("@ai-sdk/anthropic");
 *   return (m) => createAnthropic({ apiKey }).languageModel(m);
 * });
 */
export function sdkClient(load: ModelFactoryLoader): ProviderClient {
  const models = new Map<string, LanguageModel>();
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
      const { streamText } = await import("ai");
      const result = streamText({
        model: await modelFor(call.model),
        system: call.system,
        prompt: call.prompt,
        maxOutputTokens: call.maxOutputTokens,
        maxRetries: 0,
        abortSignal: call.signal,
        // The default handler prints to the console; failures are reported by the agent actor.
        onError: () => {},
      });
      let text = "";
      let usage: LanguageModelUsage | undefined;
      for await (const part of result.fullStream) {
        switch (part.type) {
          case "text-delta":
            if (part.text.length > 0) {
              text += part.text;
              call.onDelta(part.text);
            }
            break;
          case "finish":
            usage = part.totalUsage;
            break;
          case "error":
            throw part.error;
          case "abort":
            throw call.signal.reason ?? new DOMException("The turn was aborted", "AbortError");
        }
      }
      const outcome: CallOutcome = { text, usage: normaliseUsage(usage, { ...call, text }) };
      const reported = (usage?.raw as { cost?: unknown } | undefined)?.cost;
      if (typeof reported === "number") outcome.reportedCostUsd = reported;
      return outcome;
    },
  };
}

/** The providers this server can call (built-in plus local servers), keyed by provider name. */
export function providerClients(
  config: Config,
): Map<string, { client: ProviderClient; configured: boolean; local: boolean }> {
  const clients = new Map<string, { client: ProviderClient; configured: boolean; local: boolean }>();
  const add = (name: string, key: string | undefined, factory: (apiKey: string) => ModelFactoryLoader) => {
    clients.set(name, { client: sdkClient(factory(key ?? "")), configured: key !== undefined, local: false });
  };
  add("anthropic", config.anthropicApiKey, (apiKey) => async () => {
    const { createAnthropic } = await import("@ai-sdk/anthropic");
    const p = createAnthropic({ apiKey, baseURL: config.anthropicBaseUrl });
    return (m) => p.languageModel(m);
  });
  add("openai", config.openaiApiKey, (apiKey) => async () => {
    const { createOpenAI } = await import("@ai-sdk/openai");
    const p = createOpenAI({ apiKey, baseURL: config.openaiBaseUrl });
    return (m) => p.chat(m);
  });
  add("gemini", config.geminiApiKey, (apiKey) => async () => {
    const { createGoogleGenerativeAI } = await import("@ai-sdk/google");
    const p = createGoogleGenerativeAI({ apiKey, baseURL: config.geminiBaseUrl });
    return (m) => p.languageModel(m);
  });
  add("mistral", config.mistralApiKey, (apiKey) => async () => {
    const { createMistral } = await import("@ai-sdk/mistral");
    const p = createMistral({ apiKey, baseURL: config.mistralBaseUrl });
    return (m) => p.languageModel(m);
  });
  add("xai", config.xaiApiKey, (apiKey) => compatible("xai", config.xaiBaseUrl, apiKey));
  add("openrouter", config.openrouterApiKey, (apiKey) => compatible("openrouter", config.openrouterBaseUrl, apiKey));
  for (const server of config.localModels) clients.set(server.name, localClient(server));
  return clients;
}

function compatible(name: string, baseURL: string, apiKey: string | undefined): ModelFactoryLoader {
  return async () => {
    const { createOpenAICompatible } = await import("@ai-sdk/openai-compatible");
    const p = createOpenAICompatible({ name, baseURL, apiKey, includeUsage: true });
    return (m) => p.chatModel(m);
  };
}

function localClient(server: LocalModelServer) {
  // Local servers take no key; the SDK sends none when apiKey is undefined.
  return { client: sdkClient(compatible(server.name, server.baseUrl, undefined)), configured: true, local: true };
}
