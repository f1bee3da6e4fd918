/**
 * The AgentActor: one per agent, under the "agents" supervisor. It owns the agent's circuit
 * breakers; every turn is admitted (or refused) in its mailbox, runs concurrently with the agent's
 * other turns, and reports its verdict back to the mailbox, so breaker transitions happen one at
 * a time and in order. A turn refused by an open breaker, or failing on a rate limit, an
 * exhausted quota (before the first token) or a broken stream (after it), moves to the OpenRouter
 * fallback when one is configured.
 *
 * Breakers are kept per credential: the server's key has the breaker the health routes and the
 * metrics show, and each organisation that set its own key for the agent's provider has one of
 * its own, so an organisation's wrong or exhausted key opens only its own breaker, never the one
 * every other organisation's debates share (nor does a failing server key stop an organisation's
 * own). An organisation's breaker is kept while it has failures or turns in flight (a fresh one is
 * the same as none), and a new key starts with a fresh one.
 *
 * @example
 * const ref = system.spawn(agentActor(deps), { parent: agents, name: actorNameOf(spec.name), restart: "permanent" });
 * const outcome = await ref.ask<TurnOutcome>({ type: "turn", request, via }, { timeoutMs: TURN_ASK_LIMIT_MS });
 */
import { type ActorContext, behavior } from "../../runtime/actor/index.ts";
import type { Logger } from "../../runtime/log.ts";
import { metrics } from "../../runtime/metrics.ts";
import { type Admission, BREAKER_GAUGE, type BreakerOptions, type BreakerSnapshot, CircuitBreaker } from "./breaker.ts";
import type { ProviderEntry } from "./catalog.ts";
import type { ProviderFailure } from "./providers/failure.ts";
import type { RetryPolicy } from "./retry.ts";
import { type AgentSpec, AgentTurnError, type FallbackInfo, type TurnRequest, type TurnResult } from "./turn.ts";
import { HANDED_OFF, ProviderTurnFailure, runProviderTurn } from "./turn-runner.ts";

/** How long an ask for a turn may stay unanswered; the turn's own signal normally ends it much sooner. */
export const TURN_ASK_LIMIT_MS = 6 * 60 * 60 * 1000;

export type TurnOutcome = { ok: true; result: TurnResult } | { ok: false; error: AgentTurnError };

/** Whose key a turn runs on, with what goes with it: the server's, or an organisation's own. */
export interface TurnCredential {
  /** Undefined: the server's key. Else the organisation whose own key this is. */
  readonly orgId?: string;
  /** Names the organisation's key (its fingerprint, never the key): a new key gets a fresh breaker. */
  readonly keyId?: string;
  /** The client calling with this key. */
  readonly entry: ProviderEntry;
  /** The OpenRouter agent a turn on this credential falls back to (with the same organisation's keys). */
  readonly fallback: AgentSpec | undefined;
  /** Scrubs the server's keys, and this one, out of provider messages before they are logged or stored. */
  redact(message: string): string;
}

export type AgentMsg =
  | { type: "turn"; request: TurnRequest; via: TurnCredential }
  | {
      type: "settled";
      /** The breaker that admitted the turn (the server's, or an organisation's). */
      breaker: CircuitBreaker;
      orgId: string | undefined;
      ticket: Admission;
      verdict: "success" | "failure" | "none";
      message: string;
    }
  | { type: "cooldown_elapsed" };

/** What the breaker looked like when the actor last published it; readers age it with the clock. */
export interface BoardEntry {
  snapshot: BreakerSnapshot;
  publishedAt: number;
  /** Exact time left until half-open when published (0 unless open); the snapshot rounds it up to seconds. */
  msUntilHalfOpen: number;
}

export interface AgentActorDeps {
  spec: AgentSpec;
  policy: RetryPolicy;
  breaker: BreakerOptions;
  /** Shared, written only by each agent's own actor; the health routes read it (the server key's breaker). */
  board: Map<string, BoardEntry>;
  /** Runs a turn on the fallback agent's actor (its own breaker and retries). */
  runFallback(spec: AgentSpec, request: TurnRequest): Promise<TurnResult>;
  log: Logger;
}

/** An organisation's breaker for this agent, with the key it counts for and its turns in flight. */
interface OwnBreaker {
  keyId: string | undefined;
  breaker: CircuitBreaker;
  inFlight: number;
}

interface AgentState {
  /** The server key's breaker. */
  breaker: CircuitBreaker;
  /** Aborted when this incarnation ends, so shutdown and restarts end waits and streams. */
  stop: AbortController;
}

/**
 * The actor name of an agent: agent names may contain "/", which actor paths reserve.
 *
 * @example
 * actorNameOf("openrouter:anthropic/claude-sonnet-4.5"); // "openrouter:anthropic%2Fclaude-sonnet-4.5"
 */
export function actorNameOf(agent: string): string {
  return agent.replaceAll("%", "%25").replaceAll("/", "%2F");
}

/**
 * The behaviour of one agent's actor.
 *
 * @example
 * system.spawn(agentActor(deps), { parent: agentsSupervisor, name: actorNameOf("demo:alice") });
 */
export function agentActor(deps: AgentActorDeps) {
  const { spec, board } = deps;
  // Organisations' breakers, by organisation: outside the incarnation's state, so a restart keeps
  // them as the board keeps the server's. Written only in the mailbox.
  const own = new Map<string, OwnBreaker>();
  const breakerOf = (state: AgentState, via: TurnCredential, ctx: ActorContext<AgentMsg>): CircuitBreaker => {
    if (via.orgId === undefined) return state.breaker;
    let entry = own.get(via.orgId);
    if (entry === undefined || entry.keyId !== via.keyId) {
      // A new key (or the first failure-free turn in a while): its own closed breaker.
      entry = { keyId: via.keyId, breaker: new CircuitBreaker(deps.breaker, ctx.system.clock), inFlight: 0 };
      own.set(via.orgId, entry);
    }
    return entry.breaker;
  };
  const publish = (state: AgentState, ctx: ActorContext<AgentMsg>) => {
    const snapshot = state.breaker.snapshot();
    board.set(spec.name, {
      snapshot,
      publishedAt: ctx.system.clock.now(),
      msUntilHalfOpen: state.breaker.msUntilHalfOpen(),
    });
    metrics.circuitBreakerState.set({ agent: spec.name }, BREAKER_GAUGE[snapshot.state]);
    if (snapshot.state === "open") {
      ctx.timers.startSingle("half_open", { type: "cooldown_elapsed" }, state.breaker.msUntilHalfOpen());
    }
  };
  return behavior<AgentMsg, AgentState>({
    kind: "agent",
    init: (ctx) => {
      // A restarted incarnation takes over its predecessor's breaker, aged by the time since it
      // was last published, so a crash neither closes an open circuit nor restarts its cooldown.
      const previous = board.get(spec.name);
      const clock = ctx.system.clock;
      return {
        breaker: new CircuitBreaker(
          deps.breaker,
          clock,
          previous?.snapshot,
          previous === undefined ? undefined : previous.msUntilHalfOpen - (clock.now() - previous.publishedAt),
        ),
        stop: new AbortController(),
      };
    },
    preStart(state, ctx) {
      publish(state, ctx);
      return state;
    },
    receive(state, msg, ctx) {
      switch (msg.type) {
        case "turn": {
          const sender = ctx.sender;
          const reply = (outcome: TurnOutcome) => sender?.tell(outcome);
          if (msg.request.signal.aborted) {
            reply({
              ok: false,
              error: new AgentTurnError(spec.name, "aborted", "the turn was aborted before it started"),
            });
            return state;
          }
          const breaker = breakerOf(state, msg.via, ctx);
          const ticket = breaker.admit();
          if (breaker === state.breaker) publish(state, ctx);
          else if (ticket !== "refused") (own.get(msg.via.orgId as string) as OwnBreaker).inFlight++;
          void runTurn(deps, state, ctx, msg.request, msg.via, breaker, ticket).then(reply);
          return state;
        }
        case "settled": {
          // The server key's verdicts go to this incarnation's breaker (after a restart, the one
          // that took over its predecessor's), an organisation's to the breaker that admitted it.
          const breaker = msg.orgId === undefined ? state.breaker : msg.breaker;
          if (msg.verdict === "success") breaker.recordSuccess(msg.ticket);
          else if (msg.verdict === "failure") breaker.recordFailure(msg.ticket, msg.message);
          else breaker.release(msg.ticket);
          if (breaker === state.breaker) {
            publish(state, ctx);
            return state;
          }
          const entry = msg.orgId === undefined ? undefined : own.get(msg.orgId);
          if (entry?.breaker === breaker) {
            entry.inFlight--;
            // A closed breaker without failures is what a new one would be: keep none.
            const snapshot = breaker.snapshot();
            if (entry.inFlight <= 0 && snapshot.state === "closed" && snapshot.failures === 0)
              own.delete(msg.orgId as string);
          }
          return state;
        }
        case "cooldown_elapsed":
          publish(state, ctx);
          return state;
      }
    },
    preRestart(state) {
      state.stop.abort(new DOMException("the agent actor restarted", "AbortError"));
    },
    postStop(state) {
      state.stop.abort(new DOMException("the agent actor stopped", "AbortError"));
    },
  });
}

async function runTurn(
  deps: AgentActorDeps,
  state: AgentState,
  ctx: ActorContext<AgentMsg>,
  request: TurnRequest,
  via: TurnCredential,
  breaker: CircuitBreaker,
  ticket: Admission,
): Promise<TurnOutcome> {
  const { spec, log } = deps;
  const clock = ctx.system.clock;
  const started = clock.now();
  const self = ctx.self;
  const settle = (verdict: "success" | "failure" | "none", message: string) =>
    self.tell({ type: "settled", breaker, orgId: via.orgId, ticket, verdict, message });
  const finish = (outcome: TurnOutcome): TurnOutcome => {
    const seconds = (clock.now() - started) / 1000;
    metrics.agentResponse.observe({ agent: spec.name, outcome: outcome.ok ? "ok" : "error" }, seconds);
    metrics.agentTurns.inc({
      agent: spec.name,
      outcome: outcome.ok ? (outcome.result.fallback ? "fallback" : "ok") : outcome.error.kind,
    });
    return outcome;
  };
  if (ticket === "refused") {
    const snapshot = breaker.snapshot();
    const whose = via.orgId === undefined ? "" : "the organisation's own key's ";
    const message = `${whose}circuit breaker ${snapshot.state === "open" ? `open (half-open in ${snapshot.secondsUntilHalfOpen} s)` : "half-open with a probe in flight"}`;
    return finish(
      await fallBack(deps, via, request, {
        reason: "circuit_open",
        message,
        partial: "",
        afterFirstToken: false,
        started,
        clock,
      }),
    );
  }
  const signal = AbortSignal.any([request.signal, state.stop.signal]);
  try {
    const done = await runProviderTurn(
      {
        spec,
        entry: via.entry,
        clock,
        random: ctx.system.random,
        policy: deps.policy,
        log,
        redact: via.redact,
        handsOff: (failure) => via.fallback !== undefined && fallbackEligible(failure),
      },
      request,
      signal,
    );
    settle("success", "");
    const result: TurnResult = {
      agent: spec.name,
      provider: spec.provider,
      model: spec.model,
      text: done.text,
      usage: done.usage,
      cost: done.cost,
      latencyMs: clock.now() - started,
      firstTokenMs: done.firstTokenMs,
      simulated: via.entry.client.simulated,
    };
    recordUsage(spec.name, result);
    logTurn(log, request, result, done.attempts);
    return finish({ ok: true, result });
  } catch (err) {
    if (!(err instanceof ProviderTurnFailure)) {
      // A bug in a client, not a provider verdict: fail the turn without blaming the provider.
      settle("none", "");
      log.error({ err, agent: spec.name, debate_id: request.debateId }, `agent turn crashed agent=${spec.name}`);
      return finish({ ok: false, error: new AgentTurnError(spec.name, "provider_error", "internal error", err) });
    }
    const { failure } = err;
    const counts = failure.kind !== "aborted";
    settle(counts ? "failure" : "none", failure.message);
    const message =
      failure.message === err.reason || err.reason === HANDED_OFF
        ? failure.message
        : `${failure.message} (${err.reason})`;
    log.warn(
      {
        agent: spec.name,
        debate_id: request.debateId,
        round: request.round,
        kind: failure.kind,
        status: failure.status ?? null,
        attempts: err.attempts,
        after_first_token: failure.afterFirstToken,
        response_ms: Math.round(clock.now() - started),
        own_key: via.orgId !== undefined,
        error: message,
      },
      `agent turn failed agent=${spec.name}: ${message}`,
    );
    if (fallbackEligible(failure) && via.fallback !== undefined) {
      return finish(
        await fallBack(deps, via, request, {
          reason: failure.afterFirstToken ? "stream_failed" : failure.kind,
          message,
          partial: err.partial,
          afterFirstToken: failure.afterFirstToken,
          started,
          clock,
        }),
      );
    }
    const kind = failure.kind === "timeout" ? "timeout" : failure.kind;
    return finish({ ok: false, error: new AgentTurnError(spec.name, kind, message, failure) });
  }
}

/**
 * Rate limits and exhausted quotas before the first token, and any broken stream after it, move
 * the turn to the fallback; cancellations and timeouts never do (the debate has given up on it).
 */
function fallbackEligible(failure: ProviderFailure): boolean {
  if (failure.kind === "aborted" || failure.kind === "timeout") return false;
  return failure.afterFirstToken || failure.kind === "rate_limited" || failure.kind === "quota";
}

async function fallBack(
  deps: AgentActorDeps,
  via: TurnCredential,
  request: TurnRequest,
  why: {
    reason: string;
    message: string;
    partial: string;
    afterFirstToken: boolean;
    started: number;
    clock: { now(): number };
  },
): Promise<TurnOutcome> {
  const { spec, log } = deps;
  const { fallback } = via;
  if (fallback === undefined) {
    return { ok: false, error: new AgentTurnError(spec.name, "circuit_open", why.message) };
  }
  const info: FallbackInfo = {
    from: spec.name,
    to: fallback.name,
    reason: `${why.reason}: ${why.message}`,
    afterFirstToken: why.afterFirstToken,
    discardedPartial: why.partial,
  };
  metrics.fallbackActivations.inc({ agent: spec.name, reason: why.reason });
  log.warn(
    {
      agent: spec.name,
      fallback: fallback.name,
      debate_id: request.debateId,
      reason: why.reason,
      after_first_token: why.afterFirstToken,
      discarded_chars: why.partial.length,
    },
    `agent falling back agent=${spec.name} to=${fallback.name}: ${why.message}`,
  );
  request.onFallback?.(info);
  const fallbackStart = why.clock.now();
  try {
    const result = await deps.runFallback(fallback, { ...request, onFallback: undefined });
    metrics.fallbackSuccess.inc({ agent: spec.name });
    metrics.fallbackLatency.observe({ agent: spec.name }, (why.clock.now() - fallbackStart) / 1000);
    return { ok: true, result: { ...result, latencyMs: why.clock.now() - why.started, fallback: info } };
  } catch (err) {
    metrics.fallbackLatency.observe({ agent: spec.name }, (why.clock.now() - fallbackStart) / 1000);
    const inner =
      err instanceof AgentTurnError ? err : new AgentTurnError(fallback.name, "provider_error", String(err), err);
    return {
      ok: false,
      error: new AgentTurnError(
        spec.name,
        inner.kind,
        `${why.message}; the fallback ${fallback.name} failed too: ${inner.message}`,
        inner,
      ),
    };
  }
}

function recordUsage(agent: string, result: TurnResult): void {
  const { usage } = result;
  metrics.agentTokens.inc({ agent, kind: "input" }, usage.inputTokens);
  metrics.agentTokens.inc({ agent, kind: "output" }, usage.outputTokens);
  if (usage.cacheReadTokens > 0) metrics.agentTokens.inc({ agent, kind: "cache_read" }, usage.cacheReadTokens);
  if (usage.cacheWriteTokens > 0) metrics.agentTokens.inc({ agent, kind: "cache_write" }, usage.cacheWriteTokens);
  if (usage.reasoningTokens > 0) metrics.agentTokens.inc({ agent, kind: "reasoning" }, usage.reasoningTokens);
  if (result.cost.usd > 0) metrics.agentCost.inc({ agent }, result.cost.usd);
  if (result.firstTokenMs !== null) metrics.agentLatency.observe({ agent }, result.firstTokenMs / 1000);
}

function logTurn(log: Logger, request: TurnRequest, result: TurnResult, attempts: number): void {
  const { usage } = result;
  log.info(
    {
      agent: result.agent,
      provider: result.provider,
      model: result.model,
      debate_id: request.debateId,
      round: request.round,
      role: request.role,
      response_ms: Math.round(result.latencyMs),
      first_token_ms: result.firstTokenMs === null ? null : Math.round(result.firstTokenMs),
      input_tokens: usage.inputTokens,
      output_tokens: usage.outputTokens,
      cache_read_tokens: usage.cacheReadTokens,
      cache_write_tokens: usage.cacheWriteTokens,
      reasoning_tokens: usage.reasoningTokens,
      usage_estimated: usage.estimated,
      cost_usd: result.cost.usd,
      cost_source: result.cost.source,
      attempts,
      simulated: result.simulated,
    },
    `agent turn agent=${result.agent} response_ms=${Math.round(result.latencyMs)} input_tokens=${usage.inputTokens} output_tokens=${usage.outputTokens}`,
  );
}
