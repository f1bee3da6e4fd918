/**
 * What integrations post and how they are described: the outcome of a debate as the Slack,
 * Discord, Teams and OAuth2 connectors format it (actors/integrations/), and the kinds of
 * integration there are.
 *
 * @example
 * const outcome: DebateOutcome = { debate_id: "d-1", question: "Ship it?", status: "completed",
 *   consensus: { reached: true, method: "majority", answer: "Yes", winner: "demo:alice", support: 0.67 },
 *   rounds_completed: 2, agents: ["demo:alice", "demo:bob"], finished_at: "2025-01-01T00:00:00.000Z" };
 */
import { type } from "arktype";
import { lazy } from "./lazy.ts";

export const INTEGRATION_KINDS = ["slack", "discord", "teams", "oauth2"] as const;
export type IntegrationKind = (typeof INTEGRATION_KINDS)[number];

export const DebateOutcome = lazy(() =>
  type({
    debate_id: "string",
    question: "string",
    status: type("string").describe("how the debate ended: completed, failed, cancelled, timed_out"),
    consensus: type({
      reached: "boolean",
      method: "string",
      answer: "string | null",
      winner: "string | null",
      support: type("number").describe("share of the votes for the answer, 0 to 1"),
    }).or("null"),
    rounds_completed: "number.integer >= 0",
    agents: "string[]",
    finished_at: type("string").describe("when the debate ended (ISO 8601)"),
    "url?": type("string").describe("where people can read the debate"),
  }),
);
export type DebateOutcome = typeof DebateOutcome.infer;
