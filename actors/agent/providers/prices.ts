/**
 * The price table: US dollars per million tokens per `provider:model`, with the version recorded
 * in every cost it produces (`price_table@<version>`), so a stored cost says which prices made it.
 * Bump PRICE_TABLE_VERSION whenever a price changes.
 *
 * @example
 * priceOf("anthropic", "claude-sonnet-4-5"); // { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 }
 */
export const PRICE_TABLE_VERSION = "2026-11-01";

export interface ModelPrice {
  input: number;
  output: number;
  /** Defaults to the input price when a provider has no cache discount. */
  cacheRead?: number;
  cacheWrite?: number;
}

const PRICES: Record<string, ModelPrice> = {
  "anthropic:claude-opus-4-1": { input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75 },
  "anthropic:claude-sonnet-4-5": { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  "anthropic:claude-sonnet-4": { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  "anthropic:claude-haiku-4-5": { input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 },
  "openai:gpt-5": { input: 1.25, output: 10, cacheRead: 0.125 },
  "openai:gpt-5-mini": { input: 0.25, output: 2, cacheRead: 0.025 },
  "openai:gpt-4.1": { input: 2, output: 8, cacheRead: 0.5 },
  "openai:gpt-4.1-mini": { input: 0.4, output: 1.6, cacheRead: 0.1 },
  "openai:gpt-4o": { input: 2.5, output: 10, cacheRead: 1.25 },
  "openai:gpt-4o-mini": { input: 0.15, output: 0.6, cacheRead: 0.075 },
  "gemini:gemini-2.5-pro": { input: 1.25, output: 10, cacheRead: 0.31 },
  "gemini:gemini-2.5-flash": { input: 0.3, output: 2.5, cacheRead: 0.075 },
  "mistral:mistral-large-latest": { input: 2, output: 6 },
  "mistral:mistral-medium-latest": { input: 0.4, output: 2 },
  "mistral:mistral-small-latest": { input: 0.1, output: 0.3 },
  "xai:grok-4": { input: 3, output: 15, cacheRead: 0.75 },
  "xai:grok-3-mini": { input: 0.3, output: 0.5, cacheRead: 0.075 },
};

/**
 * The price of a model, or undefined when the table does not know it (its cost is then
 * reported as 0 and estimated).
 *
 * @example
 * priceOf("openai", "gpt-4.1-mini")?.output; // 1.6
 */
export function priceOf(provider: string, model: string): ModelPrice | undefined {
  return PRICES[`${provider}:${model}`];
}
