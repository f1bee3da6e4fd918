/**
 * The playbook interpreter engine: {@link executeRun} executes or resumes one run against the
 * journal. The actor that owns a run (and its routes) is in actors/runbook.
 *
 * @example
 * import { executeRun } from "../../ops/interpreter/index.ts";
 */
export { executeRun, thisExecutor } from "./execute-run.ts";
export type { RunDeps, RunOutcome } from "./run-session.ts";
export { retryDelay } from "./step-attempt.ts";
