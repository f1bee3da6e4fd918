/**
 * The IntegrationActor: one per integration, supervised under `/system/integrations`. It owns the
 * integration's queue of outcome deliveries (loaded from the store at start, fed by the fan-out)
 * and their retry timers, and posts one at a time (chat services rate-limit per webhook; one at a
 * time also keeps a channel's messages in the order the debates ended).
 *
 * - Slack, Discord and Teams: the connector's format posted to the incoming-webhook URL
 *   (./chat-connectors.ts); OAuth2: the outcome posted with a bearer token, refreshed when needed
 *   (./oauth2-connector.ts). Rotated tokens are saved sealed through the instrumented store's
 *   `refresh_token` before anything else, and kept in the actor so a failed save does not lose
 *   them while the process lives.
 * - The webhooks' retry policy (actors/webhook/retry-policy.ts, the same ARAGORA_WEBHOOK_* settings):
 *   a retryable answer (5xx, 429, a redirect, a timeout, a reset) is due again after
 *   `min(base * 2^(attempt-1), max) + jitter` or the service's Retry-After when longer; after
 *   `maxRetries` retries, or at once for an answer retrying cannot change (4xx), dead-lettered.
 * - 410 Gone disables the integration, saying why; its deliveries wait until it is enabled again.
 *
 * @example
 * system.spawn(integrationActor(deps, "int_x"), { parent, name: "int_x", kind: "integration" });
 */
import { type ActorContext, behavior } from "../../runtime/actor/index.ts";
import type { SendOutbound } from "../../runtime/http/outbound.ts";
import type { Logger } from "../../runtime/log.ts";
import type { DebateOutcome, IntegrationKind } from "../../schemas/integrations.ts";
import { afterFailure, type RetryPolicy } from "../webhook/retry-policy.ts";
import { CHAT_CONNECTORS, type ChatKind, postToChat } from "./chat-connectors.ts";
import type { ConnectorDelivery } from "./connector-delivery.ts";
import type { InstrumentedIntegrationStore } from "./instrumented-integration-store.ts";
import type {
  IntegrationDeliveryRow,
  IntegrationDeliveryState,
  IntegrationDeliveryStore,
} from "./integration-delivery-store.ts";
import type { IntegrationRow, IntegrationStore } from "./integration-store.ts";
import { type OAuth2Secrets, type OAuth2Settings, postToOAuth2Api } from "./oauth2-connector.ts";

/** Deliveries loaded from the store at a time. */
export const LOAD_LIMIT = 500;
/** How long a delivery whose outcome could not be written waits before it is sent again. */
const UNWRITTEN_RETRY_MS = 1000;

/** A delivery in an integration's queue. */
export interface QueuedOutcome {
  id: string;
  payload: string;
  attempts: number;
  /** Wall-clock ms when it is due. */
  dueAt: number;
}

/** The queue entry of a stored delivery. @example queuedOutcome(row) */
export function queuedOutcome(row: IntegrationDeliveryRow): QueuedOutcome {
  return { id: row.id, payload: row.payload, attempts: row.attempts, dueAt: row.nextAttemptAt.getTime() };
}

interface Settled {
  type: "settled";
  delivery: QueuedOutcome;
  /** undefined: the outcome could not be written; the delivery is sent again later. */
  state: IntegrationDeliveryState | undefined;
  nextDueAt: number;
  disabledReason?: string;
  secrets?: OAuth2Secrets;
}

export type IntegrationMsg =
  | { type: "load" }
  | { type: "enqueue"; deliveries: QueuedOutcome[] }
  /** The integration's row changed (edited, enabled): read it again. */
  | { type: "reload" }
  | { type: "wake" }
  | Settled;

export interface IntegrationActorDeps {
  deliveries: Pick<IntegrationDeliveryStore, "integrationById" | "open" | "markInProgress" | "record" | "disable">;
  /** Opens the sealed credentials. */
  secrets: Pick<IntegrationStore, "secretsOf">;
  /** Where rotated OAuth2 tokens are saved (the runbook's refresh_token operation). */
  store: Pick<InstrumentedIntegrationStore, "refreshToken" | "invalidate">;
  send: SendOutbound;
  policy: RetryPolicy;
  timeoutMs: number;
  log: Logger;
  /** Wall-clock epoch milliseconds. */
  now: () => number;
  random: () => number;
}

interface IntegrationState {
  integration: IntegrationRow | undefined;
  queue: Map<string, QueuedOutcome>;
  busy: boolean;
  /** OAuth2 secrets newer than the row's (saved or not). */
  secrets: OAuth2Secrets | undefined;
}

const CHAT_KINDS: ReadonlySet<IntegrationKind> = new Set(["slack", "discord", "teams"]);

/**
 * The behaviour of the actor of integration `integrationId`.
 *
 * @example system.spawn(integrationActor(deps, id), { parent, name: id, kind: "integration" })
 */
export function integrationActor(deps: IntegrationActorDeps, integrationId: string) {
  const log = deps.log.child({ integration_id: integrationId });
  return behavior<IntegrationMsg, IntegrationState>({
    kind: "integration",
    init: () => ({ integration: undefined, queue: new Map(), busy: false, secrets: undefined }),
    preStart(state, ctx) {
      ctx.self.tell({ type: "load" });
      return state;
    },
    async receive(state, msg, ctx) {
      switch (msg.type) {
        case "load":
        case "reload": {
          const row = await deps.deliveries.integrationById(integrationId);
          if (row === undefined) {
            ctx.stop();
            return state;
          }
          // The row's credentials were replaced by a person: tokens kept here are not theirs.
          if (state.integration !== undefined && row.credentials !== state.integration.credentials) {
            state.secrets = undefined;
          }
          state.integration = row;
          if (msg.type === "load") {
            for (const d of await deps.deliveries.open(integrationId, LOAD_LIMIT)) {
              if (!state.queue.has(d.id)) state.queue.set(d.id, queuedOutcome(d));
            }
          }
          break;
        }
        case "enqueue":
          for (const d of msg.deliveries) if (!state.queue.has(d.id)) state.queue.set(d.id, d);
          break;
        case "wake":
          break;
        case "settled":
          settle(state, msg);
          break;
      }
      pump(state, ctx);
      return state;
    },
  });

  function settle(state: IntegrationState, s: Settled): void {
    state.busy = false;
    if (s.secrets !== undefined) state.secrets = s.secrets;
    if (s.disabledReason !== undefined && state.integration !== undefined) {
      state.integration = { ...state.integration, enabled: false, disabledReason: s.disabledReason };
      log.warn({ reason: s.disabledReason }, "integration disabled: its service answered 410 Gone");
    }
    if (s.state === undefined) state.queue.set(s.delivery.id, { ...s.delivery, dueAt: s.nextDueAt });
    else if (s.state === "RETRYING") {
      state.queue.set(s.delivery.id, { ...s.delivery, attempts: s.delivery.attempts + 1, dueAt: s.nextDueAt });
    } else if (s.state === "DEAD_LETTERED" && s.disabledReason === undefined) {
      log.warn({ delivery_id: s.delivery.id, attempts: s.delivery.attempts + 1 }, "integration delivery dead-lettered");
    }
  }

  function pump(state: IntegrationState, ctx: ActorContext<IntegrationMsg>): void {
    const integration = state.integration;
    if (integration === undefined || !integration.enabled || state.busy) {
      ctx.timers.cancel("wake");
      return;
    }
    const now = deps.now();
    let next: QueuedOutcome | undefined;
    for (const d of state.queue.values()) if (next === undefined || d.dueAt < next.dueAt) next = d;
    if (next === undefined) {
      ctx.timers.cancel("wake");
      return;
    }
    if (next.dueAt > now) {
      ctx.timers.startSingle("wake", { type: "wake" }, next.dueAt - now);
      return;
    }
    const delivery = next;
    state.queue.delete(delivery.id);
    state.busy = true;
    const secrets = state.secrets;
    void attempt(integration, delivery, secrets).then((settled) => ctx.self.tell(settled));
  }

  /** Posts with the integration's connector; never throws. */
  async function post(
    integration: IntegrationRow,
    outcome: DebateOutcome,
    kept: OAuth2Secrets | undefined,
  ): Promise<{ delivery: ConnectorDelivery; secrets?: OAuth2Secrets }> {
    let secrets: Record<string, unknown>;
    try {
      secrets = deps.secrets.secretsOf(integration);
    } catch (err) {
      // A credential this server cannot open (its key is not configured): retrying may help once it is.
      return { delivery: { verdict: "retry", detail: `the credentials cannot be opened: ${(err as Error).name}` } };
    }
    const kind = integration.kind as IntegrationKind;
    if (CHAT_KINDS.has(kind)) {
      const connector = CHAT_CONNECTORS[kind as ChatKind];
      return { delivery: await postToChat(deps.send, connector, String(secrets.webhook_url), outcome, deps.timeoutMs) };
    }
    const settings = JSON.parse(integration.settings) as OAuth2Settings;
    const stored = kept ?? (secrets as unknown as OAuth2Secrets);
    const result = await postToOAuth2Api(deps.send, settings, stored, outcome, {
      timeoutMs: deps.timeoutMs,
      now: deps.now,
    });
    if (result.secrets === stored) return { delivery: result.delivery };
    try {
      // First: a rotated refresh token is the only one that works from now on.
      await deps.store.refreshToken(integration.orgId, integration.id, { ...result.secrets }, new Date(deps.now()));
    } catch (err) {
      log.error({ err }, "could not save the integration's refreshed tokens; kept in memory until saved");
    }
    return { delivery: result.delivery, secrets: result.secrets };
  }

  async function attempt(
    integration: IntegrationRow,
    delivery: QueuedOutcome,
    kept: OAuth2Secrets | undefined,
  ): Promise<Settled> {
    const number = delivery.attempts + 1;
    try {
      await deps.deliveries.markInProgress(delivery.id, new Date(deps.now()));
    } catch (err) {
      log.warn({ err, delivery_id: delivery.id }, "could not mark an integration delivery in progress");
    }
    const { delivery: result, secrets } = await post(integration, JSON.parse(delivery.payload) as DebateOutcome, kept);
    const at = deps.now();
    let state: IntegrationDeliveryState;
    let nextDueAt = at;
    let disabledReason: string | undefined;
    let error: string | null = result.verdict === "delivered" ? null : result.detail || `HTTP ${result.status}`;
    if (result.verdict === "delivered") state = "DELIVERED";
    else if (result.verdict === "gone") {
      state = "DEAD_LETTERED";
      disabledReason = `the service answered 410 Gone at ${new Date(at).toISOString()}: the integration was disabled`;
      error = "HTTP 410 Gone: the integration was disabled";
    } else if (result.verdict === "rejected") state = "DEAD_LETTERED";
    else {
      const next = afterFailure(deps.policy, number, result.retryAfterMs, deps.random);
      if (next.deadLetter) state = "DEAD_LETTERED";
      else {
        state = "RETRYING";
        nextDueAt = at + next.delayMs;
      }
    }
    const extra = secrets === undefined ? {} : { secrets };
    try {
      if (disabledReason !== undefined) {
        await deps.deliveries.disable(integration.id, disabledReason, new Date(at));
        deps.store.invalidate(integration.orgId, integration.id);
      }
      await deps.deliveries.record(delivery.id, {
        state,
        attempts: number,
        nextAttemptAt: new Date(nextDueAt),
        lastError: error === null ? null : error.slice(0, 1000),
        lastStatus: result.status ?? null,
        at: new Date(at),
      });
    } catch (err) {
      log.error({ err, delivery_id: delivery.id }, "could not record an integration delivery; it will be sent again");
      return { type: "settled", delivery, state: undefined, nextDueAt: at + UNWRITTEN_RETRY_MS, ...extra };
    }
    return {
      type: "settled",
      delivery,
      state,
      nextDueAt,
      ...extra,
      ...(disabledReason === undefined ? {} : { disabledReason }),
    };
  }
}
