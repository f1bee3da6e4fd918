/**
 * `approve`: a manual gate. The run waits (status `waiting_approval`) until enough operators run
 * `ops approve RUN STEP` (or POST /api/ops/runs/:id/steps/:step/approve); the step's `timeout`
 * bounds the wait. Approvals are rows in the store, so a gate survives a crash and any process
 * sharing the store can approve.
 *
 * @example
 * - id: go
 *   action: approve
 *   with: { approvers: [alice, bob], min_approvals: 1, message: restore over production? }
 *   timeout: 30m
 */
import { type } from "arktype";
import { lazy } from "../../schemas/lazy.ts";
import type { ActionDefinition } from "../action.ts";

const ApproveInput = lazy(() =>
  type({
    "approvers?": "string[] >= 1",
    "role?": "string > 0",
    "min_approvals?": "number.integer >= 1",
    "message?": "string",
    "+": "reject",
  }).narrow((input, ctx) =>
    input.approvers !== undefined || input.role !== undefined ? true : ctx.reject("approvers or role"),
  ),
);
type ApproveInput = typeof ApproveInput.infer;

export const approveAction: ActionDefinition<ApproveInput, { approvers: string; approved_at: string }> = {
  name: "approve",
  description: "wait for min_approvals operators (from approvers, or holding role) to approve",
  input: ApproveInput,
  outputs: ["approvers", "approved_at"],
  idempotent: true,
  async plan(input) {
    const who = input.approvers ? input.approvers.join(", ") : `role ${input.role}`;
    return { summary: `wait for ${input.min_approvals ?? 1} approval(s) from ${who}`, changes: [] };
  },
  async run(input, ctx) {
    const min = input.min_approvals ?? 1;
    ctx.progress(`waiting for ${min} approval(s)${input.message ? `: ${input.message}` : ""}`);
    const approvals = await ctx.awaitApprovals({ approvers: input.approvers, role: input.role, minApprovals: min });
    return {
      approvers: approvals.map((a) => a.approver).join(","),
      approved_at: approvals.at(-1)?.at ?? new Date().toISOString(),
    };
  },
};
