/**
 * Approval gates: a step that asks for approvals waits, polling the journal, until enough valid
 * approvals (by the named approvers, or holders of the role) are recorded, or the run is cancelled.
 *
 * @example
 * const granted = await awaitApprovals(session, "deploy", { minApprovals: 2 }, signal);
 */
import type { ApprovalRecord, ApprovalRule } from "../action.ts";
import { type RunSession, wait } from "./run-session.ts";

export async function awaitApprovals(
  session: RunSession,
  stepId: string,
  rule: ApprovalRule,
  signal: AbortSignal,
): Promise<ApprovalRecord[]> {
  const { journal, run } = session;
  for (;;) {
    const valid = (await journal.approvals(run.id, stepId)).filter(
      (a) =>
        (rule.approvers === undefined || rule.approvers.includes(a.approver)) &&
        (rule.role === undefined || a.roles.includes(rule.role)),
    );
    if (valid.length >= rule.minApprovals) {
      await session.record(stepId, "approval_granted", { approvers: valid.map((a) => a.approver) }, undefined, {
        status: "running",
      });
      return valid.map((a) => ({ approver: a.approver, roles: a.roles, at: new Date(a.at).toISOString() }));
    }
    if (!session.waitingShown.has(stepId)) {
      session.waitingShown.add(stepId);
      await session.record(
        stepId,
        "approval_waiting",
        {
          approvers: rule.approvers ?? null,
          role: rule.role ?? null,
          min_approvals: rule.minApprovals,
          have: valid.length,
        },
        undefined,
        { status: "waiting_approval" },
      );
    }
    if (session.dryRun) throw new Error("approval gates wait only in real runs");
    await wait(session.pollMs, signal, session.clock);
  }
}
