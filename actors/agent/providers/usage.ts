/**
 * Usage and cost in one shape for every provider. The AI SDK already maps each wire format's
 * counters (Anthropic's message_delta output_tokens are cumulative and are taken as the running
 * total, not summed); this module fills the gaps: estimates when a provider sent no usage, and
 * prices from the versioned table or the cost OpenRouter reports.
 *
 * @example
 * const usage = normaliseUsage(sdkUsage, { system, prompt, text });
 * const cost = costOf({ provider: "openai", model: "gpt-4.1-mini", local: false }, usage);
 */
import type { LanguageModelV4Usage } from "@ai-sdk/provider";
import type { Cost, Usage } from "../turn.ts";
import { PRICE_TABLE_VERSION, priceOf } from "./prices.ts";

/** Roughly four characters per token for English text: good enough for an estimate marked as such. */
export function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : Math.ceil(text.length / 4);
}

/**
 * Normalised usage from the SDK's totals; estimated from the text when the provider sent none.
 *
 * @example
 * normaliseUsage(undefined, { system: "", prompt: "Hello there", text: "Hi" }).estimated; // true
 */
export function normaliseUsage(
  sdk: LanguageModelV4Usage | undefined,
  texts: { system: string; prompt: string; text: string },
): Usage {
  // No counts, or zero for a turn that plainly used tokens (a provider that only fills the fields), is no usage.
  const reported = (sdk?.inputTokens.total ?? 0) > 0 || (sdk?.outputTokens.total ?? 0) > 0;
  if (sdk === undefined || !reported) {
    return {
      inputTokens: estimateTokens(texts.system) + estimateTokens(texts.prompt),
      outputTokens: estimateTokens(texts.text),
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
      estimated: true,
    };
  }
  return {
    inputTokens: sdk.inputTokens.total ?? 0,
    outputTokens: sdk.outputTokens.total ?? 0,
    cacheReadTokens: sdk.inputTokens.cacheRead ?? 0,
    cacheWriteTokens: sdk.inputTokens.cacheWrite ?? 0,
    reasoningTokens: sdk.outputTokens.reasoning ?? 0,
    estimated: false,
  };
}

/**
 * The cost of a turn. `inputTokens` includes cached tokens, which are billed at their own rates;
 * reasoning tokens are part of the output and billed as output.
 *
 * @example
 * costOf({ provider: "anthropic", model: "claude-sonnet-4-5", local: false }, usage); // { usd: 0.0123, source: "price_table@2026-11-01", estimated: false }
 */
export function costOf(
  agent: { provider: string; model: string; local: boolean },
  usage: Usage,
  reportedUsd?: number,
): Cost {
  if (reportedUsd !== undefined && Number.isFinite(reportedUsd)) {
    return { usd: reportedUsd, source: "openrouter", estimated: false };
  }
  const source = `price_table@${PRICE_TABLE_VERSION}`;
  if (agent.local) return { usd: 0, source: "local", estimated: usage.estimated };
  const price = priceOf(agent.provider, agent.model);
  if (price === undefined) return { usd: 0, source, estimated: true };
  const uncached = Math.max(0, usage.inputTokens - usage.cacheReadTokens - usage.cacheWriteTokens);
  const usd =
    (uncached * price.input +
      usage.cacheReadTokens * (price.cacheRead ?? price.input) +
      usage.cacheWriteTokens * (price.cacheWrite ?? price.input) +
      usage.outputTokens * price.output) /
    1_000_000;
  return { usd: Math.round(usd * 1e8) / 1e8, source, estimated: usage.estimated };
}
