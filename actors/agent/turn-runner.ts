/**
 * One turn on one provider: the call, and the retries the provider's answers allow, each wait on
 * the actor system's clock and abortable. Fallback and the breaker are the agent actor's business;
 * this module only reports how the provider behaved.
 *
 * @example
 * const done = await runProviderTurn({ spec, entry, clock, random, policy, log }, request, signal);
 * done.text; done.attempts;
 */
import type { Clock } from "../../runtime/actor/index.ts";
import type { Logger } from "../../runtime/log.ts";
import { metrics } from "../../runtime/metrics.ts";
import type { ProviderEntry } from "./catalog.ts";
import { classifyFailure, type ProviderFailure } from "./providers/failure.ts";
import { sleep } from "./providers/sleep.ts";
import { costOf } from "./providers/usage.ts";
import { type RetryPolicy, retryDecision } from "./retry.ts";
import type { AgentSpec, Cost, TurnRequest, Usage } from "./turn.ts";

/** The reason of a failure the runner did not retry because the fallback takes over. */
export const HANDED_OFF = "handed to the fallback";

export interface ProviderTurn {
  text: string;
  usage: Usage;
  cost: Cost;
  /** Milliseconds from the start of the turn to the first token of the successful call. */
  firstTokenMs: number | null;
  attempts: number;
}

/** The turn failed on this provider; `partial` is what it had streamed before failing. */
export class ProviderTurnFailure extends Error {
  constructor(
    readonly failure: ProviderFailure,
    readonly partial: string,
    readonly attempts: number,
    readonly reason: string,
  ) {
    super(failure.message);
    this.name = "ProviderTurnFailure";
  }
}

export interface RunnerDeps {
  spec: AgentSpec;
  entry: ProviderEntry;
  clock: Clock;
  random: () => number;
  policy: RetryPolicy;
  log: Logger;
  /** Scrubs configured keys out of provider messages before they are logged or stored. */
  redact(message: string): string;
  /** True when the actor would rather hand this failure to the fallback than retry it here. */
  handsOff(failure: ProviderFailure): boolean;
}

/**
 * Runs the turn with retries; resolves with the text, usage and cost, or throws ProviderTurnFailure.
 *
 * @example
 * await runProviderTurn(deps, { ...request, onToken: (d) => ws.send(d) }, AbortSignal.any([request.signal, stop.signal]));
 */
export async function runProviderTurn(
  deps: RunnerDeps,
  request: TurnRequest,
  signal: AbortSignal,
): Promise<ProviderTurn> {
  const { spec, entry, clock, policy, log } = deps;
  const started = clock.now();
  for (let attempt = 1; ; attempt++) {
    let text = "";
    let firstTokenAt: number | null = null;
    try {
      const outcome = await entry.client.stream({
        model: spec.model,
        system: request.system,
        prompt: request.prompt,
        maxOutputTokens: request.maxOutputTokens,
        signal,
        seed: { agent: spec.name, debateId: request.debateId, round: request.round, role: request.role },
        onDelta: (delta) => {
          if (firstTokenAt === null) firstTokenAt = clock.now();
          text += delta;
          request.onToken?.(delta);
        },
      });
      const cost = entry.client.simulated
        ? { usd: 0, source: "simulated", estimated: false }
        : costOf(
            { provider: spec.provider, model: spec.model, local: entry.local },
            outcome.usage,
            outcome.reportedCostUsd,
          );
      return {
        text: outcome.text,
        usage: outcome.usage,
        cost,
        firstTokenMs: firstTokenAt === null ? null : (firstTokenAt as number) - started,
        attempts: attempt,
      };
    } catch (err) {
      const classified = classifyFailure(err, { afterFirstToken: firstTokenAt !== null, signal });
      const failure = { ...classified, message: deps.redact(classified.message) };
      const decision = deps.handsOff(failure)
        ? ({ retry: false, reason: HANDED_OFF } as const)
        : retryDecision(failure, attempt, policy, deps.random);
      if (!decision.retry) throw new ProviderTurnFailure(failure, text, attempt, decision.reason);
      metrics.agentRetries.inc({
        agent: spec.name,
        reason: failure.status === undefined ? failure.kind : String(failure.status),
      });
      log.warn(
        {
          agent: spec.name,
          debate_id: request.debateId,
          attempt,
          status: failure.status ?? null,
          kind: failure.kind,
          retry_in_ms: decision.delayMs,
          error: failure.message,
        },
        `agent call failed agent=${spec.name} attempt=${attempt}: ${failure.message}; retrying in ${decision.delayMs} ms`,
      );
      try {
        await sleep(clock, decision.delayMs, signal);
      } catch {
        const aborted = classifyFailure(signal.reason, { afterFirstToken: false, signal });
        throw new ProviderTurnFailure(aborted, "", attempt, aborted.message);
      }
    }
  }
}
