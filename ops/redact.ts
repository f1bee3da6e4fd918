/**
 * Secret redaction for everything a run writes or shows: the journal, the audit trail (run rows),
 * plans and progress. A value is secret when it is a `secret` param, or an output the action or
 * the step marks secret; every occurrence of a secret value inside any string is replaced too,
 * so an error message or URL that embeds a token does not leak it.
 *
 * @example
 * const r = new Redactor();
 * r.addSecret("hunter2");
 * r.redact({ url: "https://x/?t=hunter2" }); // { url: "https://x/?t=***" }
 */
export const MASK = "***";

export class Redactor {
  private readonly secrets = new Set<string>();

  /** Remember a secret value (strings of 3+ characters; shorter ones would mask ordinary text). */
  addSecret(value: unknown): void {
    if (value === null || value === undefined) return;
    const text = typeof value === "string" ? value : JSON.stringify(value);
    if (text.length >= 3) this.secrets.add(text);
  }

  /** A deep copy of `value` with every known secret replaced by {@link MASK}. */
  redact<T>(value: T): T {
    if (this.secrets.size === 0) return value;
    return this.walk(value) as T;
  }

  /** Redact the named keys of a record outright, then any embedded secret. */
  redactKeys(record: Record<string, unknown>, keys: ReadonlySet<string>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(record)) out[k] = keys.has(k) ? MASK : this.redact(v);
    return out;
  }

  private walk(value: unknown): unknown {
    if (typeof value === "string") {
      let text = value;
      for (const secret of this.secrets) if (text.includes(secret)) text = text.split(secret).join(MASK);
      return text;
    }
    if (Array.isArray(value)) return value.map((v) => this.walk(v));
    if (value !== null && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.walk(v);
      return out;
    }
    return value;
  }
}
