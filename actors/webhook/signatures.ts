/**
 * How a webhook proves it came from this server, on the exact bytes of its body:
 *
 * - `X-Webhook-Signature: sha256=<hex HMAC-SHA256 of the body>`, keyed with the secret's text as
 *   UTF-8: what the runbook's recipient code checks (`hmac.new(secret.encode(), json.dumps(payload).encode(), sha256)`,
 *   which holds because bodies are written as Python writes them: ./python-json.ts);
 * - the Standard Webhooks headers `webhook-id`, `webhook-timestamp` and `webhook-signature`
 *   (`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, keyed with the bytes the `whsec_`
 *   secret encodes), which any Standard Webhooks library verifies.
 *
 * While a rotated-out secret is still valid (the overlap window), a delivery carries both
 * signatures: `webhook-signature` lists the two (space-separated, as the standard allows) and
 * `X-Webhook-Signature-Previous` carries the old secret's, so a receiver still holding the old
 * secret keeps verifying while it moves to the new one.
 *
 * @example
 * const secret = generateSigningSecret(); // "whsec_..."
 * const headers = signatureHeaders({ id: "dlv-1", timestamp: 1700000000, body, secrets: [secret] });
 */
import { randomBytes } from "node:crypto";

/** The prefix of every signing secret, as Standard Webhooks writes them. */
export const SECRET_PREFIX = "whsec_";

/**
 * A new signing secret: `whsec_` and 32 random bytes in base64.
 *
 * @example generateSigningSecret().startsWith("whsec_") // true
 */
export function generateSigningSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString("base64");
}

/** The HMAC key Standard Webhooks uses: the bytes the secret's base64 part encodes. */
function standardKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, "base64");
}

/**
 * The runbook's signature of a body: `sha256=` and the hex HMAC-SHA256 keyed with the secret's text.
 *
 * @example hexSignature("whsec_abc", '{"a": 1}') // "sha256=5d0c..."
 */
export function hexSignature(secret: string, body: string | Uint8Array): string {
  // Bun's own HMAC: the same bytes as node:crypto's createHmac, in less than half its time.
  return `sha256=${new Bun.CryptoHasher("sha256", secret).update(body).digest("hex")}`;
}

/**
 * One Standard Webhooks signature, `v1,<base64>` over `<id>.<timestamp>.<body>`.
 *
 * @example standardSignature("whsec_...", "dlv-1", 1700000000, body)
 */
export function standardSignature(secret: string, id: string, timestamp: number, body: string | Uint8Array): string {
  const mac = new Bun.CryptoHasher("sha256", standardKey(secret));
  mac.update(`${id}.${timestamp}.`);
  mac.update(body);
  return `v1,${mac.digest("base64")}`;
}

export interface SignatureInput {
  /** The delivery id: the same on every attempt, so receivers can deduplicate. */
  id: string;
  /** Seconds since the epoch of this attempt. */
  timestamp: number;
  body: string | Uint8Array;
  /** The current secret first, then a previous one still inside its overlap window. */
  secrets: readonly string[];
}

/**
 * Every signature header of one attempt.
 *
 * @example signatureHeaders({ id, timestamp: Math.floor(Date.now() / 1000), body, secrets: [current, previous] })
 */
export function signatureHeaders(input: SignatureInput): Record<string, string> {
  const [current, previous] = input.secrets;
  if (current === undefined) throw new Error("a delivery needs a signing secret");
  const headers: Record<string, string> = {
    "webhook-id": input.id,
    "webhook-timestamp": String(input.timestamp),
    "webhook-signature": input.secrets
      .map((s) => standardSignature(s, input.id, input.timestamp, input.body))
      .join(" "),
    "x-webhook-signature": hexSignature(current, input.body),
  };
  if (previous !== undefined) headers["x-webhook-signature-previous"] = hexSignature(previous, input.body);
  return headers;
}
