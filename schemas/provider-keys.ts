/**
 * Bodies of an organisation's own provider keys (/api/org/provider-keys): the key goes in once, in
 * a PUT body, and never comes back; lists and answers show its last four characters only.
 *
 * The key's rules are checked here without echoing it: a refusal names the field and the rule
 * (`body.key: key must be 8 to 512 characters (it has 3)`), never the value, so a mistyped key
 * does not reach a client's error display or a log through the 422.
 */
import { type } from "arktype";
import { lazy } from "./lazy.ts";

/** How long a provider key may be: every provider's keys fall well inside. */
export const PROVIDER_KEY_LENGTH = { min: 8, max: 512 } as const;

/**
 * What `key` must be that it is not, as a provider API key ("must be ..."), or undefined when it
 * is acceptable; the answer never contains the key.
 *
 * @example providerKeyProblem("sk live") // "without whitespace (it has some)"
 */
export function providerKeyProblem(key: string): string | undefined {
  const { min, max } = PROVIDER_KEY_LENGTH;
  if (key.length < min || key.length > max) return `${min} to ${max} characters (it has ${key.length})`;
  if (/\s/u.test(key)) return "without whitespace (it has some)";
  if (!/^[\x21-\x7e]+$/.test(key)) return "printable ASCII characters only (it has others)";
  // Stored as it is when no encryption key is configured: a value that looked like an encrypted
  // envelope would be taken for one (and a server without keys refuses to start over it).
  if (key.startsWith("{")) return "a key, not JSON (it starts with {)";
  return undefined;
}

export const ProviderApiKey = lazy(() =>
  type("string")
    .narrow((key, ctx) => {
      const problem = providerKeyProblem(key);
      // actual "": the message must not show the key ("must be <expected>").
      return problem === undefined || ctx.reject({ expected: problem, actual: "" });
    })
    .describe(
      `a provider API key: ${PROVIDER_KEY_LENGTH.min} to ${PROVIDER_KEY_LENGTH.max} printable ASCII characters without whitespace (never shown again)`,
    ),
);

export const SetProviderKeyBody = lazy(() => type({ key: ProviderApiKey, "+": "reject" }));

/**
 * The path parameter naming a provider an organisation may set a key for: the built-in providers
 * that take one and the configured local servers (`providers`).
 *
 * @example providerKeyParams(["anthropic", "openai", "ollama"])
 */
export function providerKeyParams(providers: readonly string[]) {
  const names = [...providers];
  // Built on the route's first request, like the module's other schemas (lazy.ts).
  return lazy(() =>
    type({
      provider: type.enumerated(...names).describe(`one of ${names.join(", ")}`),
    }),
  );
}

export const ProviderKeyBody = lazy(() =>
  type({
    provider: "string",
    last_four: type("string").describe("the key's last four characters: all that is ever shown of it"),
    created_at: type("string").describe("when a key was first set for this provider (ISO 8601)"),
    created_by: type("string").describe("the user who first set it ('operator' for the operator token)"),
    updated_at: type("string").describe("when the key was last set (ISO 8601)"),
    updated_by: type("string").describe("the user who last set it"),
  }),
);

export const ProviderKeyListResponse = lazy(() =>
  type({
    provider_keys: ProviderKeyBody.array().describe("the organisation's own keys, by provider (never the keys)"),
    providers: type("string[]").describe("the providers a key may be set for"),
  }),
);

export const SetProviderKeyResponse = lazy(() =>
  ProviderKeyBody.and({
    replaced: type("boolean").describe("true when it replaced the organisation's previous key for the provider"),
  }),
);

export const RemovedProviderKeyResponse = lazy(() => type({ provider: "string", removed: "true" }));

export type ProviderKeyBody = typeof ProviderKeyBody.infer;
