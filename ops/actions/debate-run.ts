/**
 * `debate.run`: run a debate on the server and expose its decision as outputs, so a playbook can
 * act on what the agents concluded (`when: ${{ steps.ask.outputs.answer == 'yes' }}`). The debate
 * runs where the run executes: the server the run was handed to, or, for an in-process run, the
 * server that holds the data dir (found through server.json), as the operator (ARAGORA_API_TOKEN, or
 * the server's handoff token in the data dir). It polls GET /api/debates/:id until
 * the debate ends, then fetches the signed receipt; a cancelled or timed-out step cancels the debate.
 *
 * @example
 * - id: ask
 *   action: debate.run
 *   with: { question: "Is it safe to restore the 02:00 backup now?", agents: [demo:alice, demo:bob], rounds: 2 }
 *   timeout: 10m
 * - id: go
 *   action: assert
 *   with: { that: "${{ steps.ask.outputs.reached }}", message: the agents did not agree }
 *   timeout: 1s
 */
import { createHash } from "node:crypto";
import { type } from "arktype";
import canonicalize from "canonicalize";
import { readServerLock } from "../../runtime/server-lock.ts";
import { CreateDebateBody } from "../../schemas/debates.ts";
import { lazy } from "../../schemas/lazy.ts";
import type { ActionContext, ActionDefinition } from "../action.ts";
import { Duration } from "../duration.ts";
import { readOpsToken, serverBaseUrl } from "../handoff.ts";
import { abortableSleep } from "./sleep.ts";

const DebateRunInput = lazy(() =>
  type({
    question: "string > 0",
    "agents?": "string[] >= 2",
    "rounds?": "1 <= number.integer <= 12",
    "consensus?": "'majority' | 'supermajority' | 'unanimous' | 'confidence_weighted' | 'judge'",
    "topology?": "'all_to_all' | 'ring' | 'star'",
    "metadata?": "Record<string, unknown>",
    /** How often the debate's status is read; default 500ms. */
    "poll?": Duration,
    "+": "reject",
  }),
);
type DebateRunInput = typeof DebateRunInput.infer;

export interface DebateDecision extends Record<string, unknown> {
  debate_id: string;
  /** completed (cancelled and failed debates fail the step). */
  status: string;
  /** The consensus answer, or null when none was reached. */
  answer: string | null;
  reached: boolean;
  /** Share of the vote weight behind the answer (0..1). */
  support: number;
  stop_reason: string | null;
  /** SHA-256 (hex) of the RFC 8785 canonical receipt body that the server signed. */
  receipt_hash: string;
}

/** The debate could not be run or ended without a decision (failed, cancelled). */
export class DebateRunError extends Error {
  override name = "DebateRunError";
}

interface DebateView {
  debate_id: string;
  status: string;
  stop_reason: string | null;
  error?: string | null;
  consensus: { answer?: string | null; reached?: boolean; support?: number } | null;
}

/**
 * The API the step talks to: the executing server's, else the one holding the data dir.
 *
 * @example
 * debateApiBase(ctx); // "http://127.0.0.1:8080"
 */
export function debateApiBase(ctx: Pick<ActionContext, "server" | "dataDir">): string {
  if (ctx.server) return ctx.server.apiBaseUrl;
  const lock = readServerLock(ctx.dataDir);
  if (!lock) {
    throw new DebateRunError(`debate.run needs a running server: none holds ${ctx.dataDir} (start one: bun run serve)`);
  }
  return serverBaseUrl(lock);
}

/** The debate body the API takes, from the step's input (poll is ours, not the API's). */
function debateBody(input: DebateRunInput): Record<string, unknown> {
  const { poll: _poll, ...body } = input;
  return body;
}

/** SHA-256 of a receipt body in canonical JSON (what the signature covers). */
export function receiptHash(receipt: unknown): string {
  return createHash("sha256")
    .update(canonicalize(receipt) ?? "")
    .digest("hex");
}

export const debateRun: ActionDefinition<DebateRunInput, DebateDecision> = {
  name: "debate.run",
  description:
    "run a debate on the server; outputs debate_id, status, answer, reached, support, stop_reason, receipt_hash",
  input: DebateRunInput,
  outputs: ["debate_id", "status", "answer", "reached", "support", "stop_reason", "receipt_hash"],
  // Each run starts a new debate (and spends tokens): re-running after a crash needs an operator.
  idempotent: false,
  async plan(input, ctx) {
    const body = debateBody(input);
    const problems = CreateDebateBody(body);
    if (problems instanceof type.errors) throw new DebateRunError(`debate.run: ${problems.summary}`);
    let target: string;
    try {
      target = `${debateApiBase(ctx)}/api/debates`;
    } catch {
      target = "POST /api/debates (no server holds the data dir yet)";
    }
    const agents = input.agents ? ` with ${input.agents.join(", ")}` : "";
    return {
      summary: `run a debate${agents}: "${input.question.slice(0, 120)}"`,
      changes: [{ kind: "http", target, diff: JSON.stringify(body) }],
    };
  },
  async run(input, ctx) {
    const base = debateApiBase(ctx);
    const headers: Record<string, string> = { "content-type": "application/json" };
    // As the operator: the configured token, else the server's handoff token from the data dir.
    const token = ctx.config.apiToken ?? readOpsToken(ctx.dataDir);
    if (token) headers.authorization = `Bearer ${token}`;
    const created = await fetch(`${base}/api/debates`, {
      method: "POST",
      headers,
      body: JSON.stringify(debateBody(input)),
      signal: ctx.signal,
    });
    const answer = (await created.json().catch(() => ({}))) as { debate_id?: string; message?: string };
    if (created.status !== 201 || !answer.debate_id) {
      throw new DebateRunError(`POST /api/debates: HTTP ${created.status}: ${answer.message ?? "no debate id"}`);
    }
    const id = answer.debate_id;
    ctx.progress(`debate ${id} running`);
    const pollMs = input.poll ?? 500;
    const cancelDebate = () => {
      void fetch(`${base}/api/debates/${id}/cancel`, { method: "POST", headers }).catch(() => {});
    };
    ctx.signal.addEventListener("abort", cancelDebate, { once: true });
    try {
      let view: DebateView;
      for (;;) {
        const res = await fetch(`${base}/api/debates/${id}`, { headers, signal: ctx.signal });
        if (!res.ok) throw new DebateRunError(`GET /api/debates/${id}: HTTP ${res.status}`);
        view = (await res.json()) as DebateView;
        if (view.status !== "running") break;
        await abortableSleep(pollMs, ctx.signal);
      }
      if (view.status !== "completed") {
        throw new DebateRunError(`debate ${id} ${view.status}: ${view.error ?? view.stop_reason ?? "no decision"}`);
      }
      // The receipt is signed just after the debate ends: wait for it within the step's timeout.
      let receipt: unknown;
      for (;;) {
        const res = await fetch(`${base}/api/debates/${id}/receipt`, { headers, signal: ctx.signal });
        if (res.ok) {
          receipt = ((await res.json()) as { receipt: unknown }).receipt;
          break;
        }
        if (res.status !== 409) throw new DebateRunError(`GET /api/debates/${id}/receipt: HTTP ${res.status}`);
        await abortableSleep(Math.min(pollMs, 200), ctx.signal);
      }
      return {
        debate_id: id,
        status: view.status,
        answer: view.consensus?.answer ?? null,
        reached: view.consensus?.reached === true,
        support: view.consensus?.support ?? 0,
        stop_reason: view.stop_reason,
        receipt_hash: receiptHash(receipt),
      };
    } finally {
      ctx.signal.removeEventListener("abort", cancelDebate);
    }
  },
};
