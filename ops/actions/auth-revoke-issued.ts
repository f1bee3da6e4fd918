/**
 * `auth.revoke_issued`: the emergency key rotation's revocation: every API key created and every
 * session issued a token between `since` and `until` (default: when this step first started), in
 * every organisation, revoked and recorded in each organisation's audit log. Servers stop
 * accepting them within a second. Run again, it revokes nothing more.
 *
 * @example
 * - id: revoke
 *   action: auth.revoke_issued
 *   with: { since: "2026-12-01T00:00:00Z", reason: "encryption key compromised" }
 *   timeout: 5m
 */
import { type } from "arktype";
import { openStore } from "../../runtime/store/index.ts";
import { lazy } from "../../schemas/lazy.ts";
import type { ActionContext, ActionDefinition } from "../action.ts";
import { stepFirstStarted } from "./key-rotation.ts";

const Instant = lazy(() =>
  type("string")
    .narrow((s, ctx) =>
      /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(s) && !Number.isNaN(Date.parse(s))
        ? true
        : ctx.reject("an ISO-8601 date or instant such as 2026-12-01 or 2026-12-01T08:00:00Z"),
    )
    .describe("an ISO-8601 date or instant such as 2026-12-01 or 2026-12-01T08:00:00Z"),
);

const Input = lazy(() => type({ "+": "reject", since: Instant, "until?": Instant, "reason?": "string" }));
type Input = typeof Input.infer;

async function windowOf(input: Input, ctx: ActionContext): Promise<{ from: Date; to: Date }> {
  const from = new Date(input.since);
  const to = input.until === undefined ? await stepFirstStarted(ctx) : new Date(input.until);
  if (from.getTime() > to.getTime()) {
    throw new Error(`since (${from.toISOString()}) is after until (${to.toISOString()}): the window is empty`);
  }
  return { from, to };
}

export const authRevokeIssued: ActionDefinition<Input, Record<string, unknown>> = {
  name: "auth.revoke_issued",
  description: "revoke every API key and session issued in a window (a compromised key), in every organisation",
  input: Input,
  outputs: ["api_keys", "sessions", "from", "to"],
  idempotent: true,
  async plan(input, ctx) {
    const { from, to } = await windowOf(input, ctx);
    return {
      summary: `revoke every API key and session issued from ${from.toISOString()} to ${to.toISOString()}`,
      changes: [{ kind: "sql", target: "api_keys, refresh_tokens" }],
    };
  },
  async run(input, ctx) {
    if (ctx.credentials === undefined) {
      throw new Error("auth.revoke_issued needs the access store: run it with `ops run` or on a server");
    }
    const window = await windowOf(input, ctx);
    const store = await openStore({ ...ctx.config, dataDir: ctx.dataDir }, ctx.log, { migrate: false });
    try {
      const credentials = await ctx.credentials(store, ctx.log);
      try {
        const revoked = await credentials.revokeIssued(
          window,
          `ops run ${ctx.runId} (${ctx.playbook.name})`,
          input.reason ?? "credentials issued while a key may have been compromised",
        );
        ctx.progress(`revoked ${revoked.apiKeys} API keys and ${revoked.sessions} sessions`);
        return {
          api_keys: revoked.apiKeys,
          sessions: revoked.sessions,
          from: window.from.toISOString(),
          to: window.to.toISOString(),
        };
      } finally {
        await credentials.close();
      }
    } finally {
      await store.close();
    }
  },
};
