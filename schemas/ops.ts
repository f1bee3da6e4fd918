/** HTTP bodies of the ops API (/api/ops/runs ...): run summaries, details, and the requests that start or steer a run. */
import { type } from "arktype";
import { lazy } from "./lazy.ts";

export const OpsRunSummary = lazy(() =>
  type({
    id: "string",
    playbook: "string",
    file: "string",
    status: "string",
    started_by: "string",
    params: "Record<string, unknown>",
    created_at: "string",
    finished_at: "string | null",
    current_step: "string | null",
    error: "string | null",
    dry_run: "boolean",
  }),
);

export const OpsRunsResponse = lazy(() => type({ runs: OpsRunSummary.array() }));
export const OpsRunsQuery = lazy(() => type({ "limit?": "string.integer.parse |> 1 <= number.integer <= 500" }));

export const OpsStep = lazy(() =>
  type({
    step_id: "string",
    action: "string",
    status: "string",
    attempts: "number",
    idempotent: "boolean",
    started_at: "string | null",
    finished_at: "string | null",
    outputs: "Record<string, unknown> | null",
    error: "string | null",
  }),
);

export const OpsJournalLine = lazy(() =>
  type({
    seq: "number",
    at: "string",
    step: "string | null",
    kind: "string",
    data: "Record<string, unknown>",
  }),
);

export const OpsRunDetail = lazy(() =>
  type({ run: OpsRunSummary, steps: OpsStep.array(), journal: OpsJournalLine.array() }),
);

export const OpsRunParams = lazy(() => type({ id: /^r-[0-9]{8}-[0-9a-f]{8}$/ }));
export const OpsStepParams = lazy(() => type({ id: /^r-[0-9]{8}-[0-9a-f]{8}$/, step: "string > 0" }));

/** A playbook shipped with the server (ops/playbooks), by name: `backup` or `backup.yml`; never a path. */
export const ShippedPlaybookName = lazy(() =>
  type(/^[a-z0-9][a-z0-9_-]{0,63}(\.yml)?$/).describe(
    "the name of a shipped playbook, e.g. backup or backup.yml (see ops list); a path is not accepted",
  ),
);

export const OpsStartBody = lazy(() =>
  type({
    playbook: type({ source: "string > 0", file: "0 < string <= 4096", "+": "reject" }).or({
      name: ShippedPlaybookName,
      "+": "reject",
    }),
    "params?": "Record<string, string | number | boolean>",
    "env?": "Record<string, string>",
    "dry_run?": "boolean",
    "started_by?": "string > 0",
    "+": "reject",
  }),
);

export const OpsStartResponse = lazy(() => type({ run_id: "string", status: "string" }));

export const OpsResumeBody = lazy(() =>
  type({
    "decision?": "'retry' | 'skip'",
    "params?": "Record<string, string>",
    "env?": "Record<string, string>",
    "+": "reject",
  }),
);

export const OpsApproveBody = lazy(() => type({ "approver?": "string > 0", "roles?": "string[]", "+": "reject" }));
export const OpsApproveResponse = lazy(() =>
  type({ run_id: "string", step: "string", approver: "string", added: "boolean" }),
);
export const OpsCancelResponse = lazy(() => type({ run_id: "string", status: "string" }));

/** GET /api/ops/runs/:id/events: newline-delimited JSON, one run event per line. */
export const OpsEventStream = lazy(() =>
  type("string").describe("application/x-ndjson: one run event per line until the run ends or pauses"),
);
