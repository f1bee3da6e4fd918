/**
 * /api/ops/runs: list, inspect, start (the CLI's handoff), follow (NDJSON), approve, resume and
 * cancel playbook runs. Platform operations (backup, restore, migrations...): their permissions
 * (ops.read, ops.run, ops.approve) are the operator's alone. The operator signs in with
 * `Authorization: Bearer <ARAGORA_API_TOKEN>`, or here also with the local handoff token from
 * `<data dir>/ops.token` (runtime/http/operator-auth.ts).
 *
 * @example
 * curl -H "Authorization: Bearer $ARAGORA_API_TOKEN" http://localhost:8080/api/ops/runs
 */

import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { Elysia } from "elysia";
import type { JournalEntry, RunEvent, RunRecord, StepRecord } from "../../ops/journal.ts";
import { FINISHED } from "../../ops/journal.ts";
import { shippedPlaybookFiles, shippedPlaybookPath } from "../../ops/shipped.ts";
import type { AuditEvent, AuditRecorder } from "../../runtime/audit.ts";
import { auditedRequest } from "../../runtime/http/audit-request.ts";
import { HttpError } from "../../runtime/http/errors.ts";
import { accessControl } from "../../runtime/http/permission.ts";
import { responses, validated } from "../../runtime/http/route-schemas.ts";
import { ErrorBody } from "../../schemas/errors.ts";
import {
  OpsApproveBody,
  OpsApproveResponse,
  OpsCancelResponse,
  OpsEventStream,
  OpsResumeBody,
  OpsRunDetail,
  OpsRunParams,
  OpsRunsQuery,
  OpsRunsResponse,
  OpsStartBody,
  OpsStartResponse,
  OpsStepParams,
} from "../../schemas/ops.ts";
import { type RunbookService, RunRequestError } from "./service.ts";

/** How often a followed run with nothing to say gets an empty line (the server closes connections idle for 10 s). */
const KEEP_ALIVE_MS = 5000;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function runSummary(r: RunRecord) {
  return {
    id: r.id,
    playbook: r.playbook,
    file: r.file,
    status: r.status,
    started_by: r.startedBy,
    params: r.params,
    created_at: new Date(r.createdAt).toISOString(),
    finished_at: iso(r.finishedAt),
    current_step: r.currentStep,
    error: r.error,
    dry_run: r.dryRun,
  };
}

const stepView = (s: StepRecord) => ({
  step_id: s.stepId,
  action: s.action,
  status: s.status,
  attempts: s.attempts,
  idempotent: s.idempotent,
  started_at: iso(s.startedAt),
  finished_at: iso(s.finishedAt),
  outputs: s.outputs,
  error: s.error,
});

export const journalLine = (e: JournalEntry) => ({
  seq: e.seq,
  at: new Date(e.at).toISOString(),
  step: e.stepId,
  kind: e.kind,
  data: e.data,
});

export function opsRoutes(deps: { service: RunbookService; audit: AuditRecorder }) {
  const { service, audit } = deps;
  const guard = { detail: { tags: ["ops"] } };
  /** The service's refusal's code, as the one error mapper answers it. */
  const codeOf = (err: RunRequestError) =>
    err.status === 404 ? "not_found" : err.status === 409 ? "conflict" : "invalid_run";
  /** The service's refusals, as the one error mapper answers them. */
  const refused = (err: unknown): never => {
    if (err instanceof RunRequestError) throw new HttpError(err.status, codeOf(err), err.message);
    throw err;
  };
  /**
   * Records an ops action on the platform's chain (runs belong to no organisation): a success, or
   * a failure with the refusal's code (or `error` when the action failed otherwise).
   */
  const recordOps = (request: Request, event: Pick<AuditEvent, "action" | "target" | "detail">, err?: unknown) =>
    audit.record({
      ...event,
      outcome: err === undefined ? "success" : "failure",
      ...auditedRequest(request),
      orgId: null,
      ...(err === undefined
        ? {}
        : { detail: { ...event.detail, reason: err instanceof RunRequestError ? codeOf(err) : "error" } }),
    });
  return new Elysia({ name: "aragora-ops", prefix: "/api/ops" })
    .use(accessControl)
    .get("/runs", async ({ query }) => ({ runs: (await service.listRuns(query.limit ?? 50)).map(runSummary) }), {
      permission: "ops.read",
      query: validated(OpsRunsQuery, "query"),
      detail: { ...guard.detail, summary: "Recent playbook runs, newest first (dry runs of this server included)" },
      response: responses({ 200: OpsRunsResponse, 401: ErrorBody, 422: ErrorBody }),
    })
    .get(
      "/runs/:id",
      async ({ params }) => {
        const journal = service.journalOf(params.id);
        const run = await journal.getRun(params.id);
        if (!run) throw new HttpError(404, "not_found", `no run "${params.id}"`);
        return {
          run: runSummary(run),
          steps: (await journal.steps(run.id)).map(stepView),
          journal: (await journal.entries(run.id)).map(journalLine),
        };
      },
      {
        params: validated(OpsRunParams, "params"),
        permission: "ops.read",
        detail: { ...guard.detail, summary: "One run: params (secrets redacted), steps and its journal" },
        response: responses({ 200: OpsRunDetail, 401: ErrorBody, 404: ErrorBody, 422: ErrorBody }),
      },
    )
    .post(
      "/runs",
      async ({ body, set, request }) => {
        let source: string;
        let file: string;
        if ("source" in body.playbook) {
          source = body.playbook.source;
          file = body.playbook.file;
        } else {
          const path = shippedPlaybookPath(body.playbook.name);
          if (!path) {
            const shipped = shippedPlaybookFiles().map((f) => f.replace(/\.yml$/, ""));
            throw new HttpError(
              404,
              "not_found",
              `no shipped playbook "${body.playbook.name}" (shipped: ${shipped.join(", ")}); send any other playbook as {source, file}`,
            );
          }
          source = readFileSync(path, "utf8");
          // Journaled and shown in diagnostics: the name, not where the server is installed.
          file = `ops/playbooks/${basename(path)}`;
        }
        // Loaded on the first run request: the compiler pulls in yaml and every action.
        const { formatDiagnostic, loadPlaybook } = await import("../../ops/playbook.ts");
        const loaded = loadPlaybook(source, file);
        if (!loaded.playbook) {
          const details = loaded.diagnostics.map((d) => ({ field: `${d.file}:${d.line}:${d.col}`, rule: d.message }));
          throw new HttpError(422, "invalid_playbook", loaded.diagnostics.map(formatDiagnostic).join("\n"), details);
        }
        const what = {
          playbook: loaded.playbook.name,
          file,
          dry_run: body.dry_run ?? false,
          started_by: body.started_by ?? "api",
        };
        try {
          const started = await service.start({
            playbook: loaded.playbook,
            params: body.params ?? {},
            env: body.env ?? {},
            startedBy: body.started_by ?? "api",
            dryRun: body.dry_run ?? false,
          });
          set.status = 202;
          await recordOps(request, {
            action: "ops.run_started",
            target: { type: "ops_run", id: started.runId },
            detail: what,
          });
          const run = await service.journalOf(started.runId).getRun(started.runId);
          return { run_id: started.runId, status: run?.status ?? "running" };
        } catch (err) {
          await recordOps(request, { action: "ops.run_started", detail: what }, err);
          return refused(err);
        }
      },
      {
        body: validated(OpsStartBody, "body"),
        parse: "json",
        permission: "ops.run",
        detail: {
          ...guard.detail,
          summary: "Start a run (a playbook's text, or a shipped playbook by name); follow it at /events",
        },
        response: responses({ 202: OpsStartResponse, 401: ErrorBody, 404: ErrorBody, 422: ErrorBody }),
      },
    )
    .get(
      "/runs/:id/events",
      async ({ params }) => {
        const journal = service.journalOf(params.id);
        const run = await journal.getRun(params.id);
        if (!run) throw new HttpError(404, "not_found", `no run "${params.id}"`);
        const encoder = new TextEncoder();
        let unsubscribe = () => {};
        let keepAlive: ReturnType<typeof setInterval> | undefined;
        const stream = new ReadableStream<Uint8Array>({
          async start(controller) {
            let last = 0;
            const queued: RunEvent[] = [];
            let replaying = true;
            let closed = false;
            let lastKind = "";
            const end = () => {
              closed = true;
              unsubscribe();
              clearInterval(keepAlive);
              controller.close();
            };
            // A pause in the replayed journal may have been resumed since: only a pause that is the
            // run's latest word (live, or the last line replayed) ends the stream.
            const send = (e: RunEvent) => {
              if (closed || e.seq <= last) return;
              last = e.seq;
              lastKind = e.kind;
              controller.enqueue(encoder.encode(`${JSON.stringify(e)}\n`));
              if (e.kind === "run_finished" || (e.kind === "run_paused" && !replaying)) end();
            };
            // A gate can wait for days with nothing to say: an empty line now and then keeps the
            // connection from being closed as idle (readers skip blank lines).
            keepAlive = setInterval(() => {
              if (!closed) controller.enqueue(encoder.encode("\n"));
            }, KEEP_ALIVE_MS);
            // Subscribe first, then replay: nothing falls between the journal and the live events.
            unsubscribe = service.subscribe(params.id, (e) => (replaying ? queued.push(e) : send(e)));
            for (const e of await journal.entries(params.id)) send({ ...e, runId: params.id });
            replaying = false;
            for (const e of queued) send(e);
            if (!closed && lastKind === "run_paused") return end();
            const current = await journal.getRun(params.id);
            if (!closed && current && FINISHED.has(current.status)) end();
          },
          cancel() {
            unsubscribe();
            clearInterval(keepAlive);
          },
        });
        return new Response(stream, { headers: { "content-type": "application/x-ndjson" } });
      },
      {
        params: validated(OpsRunParams, "params"),
        permission: "ops.read",
        detail: {
          ...guard.detail,
          summary: "Follow a run: its journal so far, then live events, as NDJSON until it ends or pauses",
        },
        response: responses({ 200: OpsEventStream, 401: ErrorBody, 404: ErrorBody, 422: ErrorBody }),
      },
    )
    .post(
      "/runs/:id/steps/:step/approve",
      async ({ params, body, request }) => {
        const approver = body.approver ?? "api";
        const event = {
          action: "ops.step_approved",
          target: { type: "ops_run", id: params.id },
          detail: { step: params.step, approver, roles: (body.roles ?? ["admin"]).join(",") },
        };
        try {
          const added = await service.approve(params.id, params.step, approver, body.roles ?? ["admin"]);
          await recordOps(request, { ...event, detail: { ...event.detail, added } });
          return { run_id: params.id, step: params.step, approver, added };
        } catch (err) {
          await recordOps(request, event, err);
          return refused(err);
        }
      },
      {
        params: validated(OpsStepParams, "params"),
        body: validated(OpsApproveBody, "body"),
        parse: "json",
        permission: "ops.approve",
        detail: { ...guard.detail, summary: "Approve a gate (an approve step) of a run" },
        response: responses({
          200: OpsApproveResponse,
          401: ErrorBody,
          404: ErrorBody,
          409: ErrorBody,
          422: ErrorBody,
        }),
      },
    )
    .post(
      "/runs/:id/resume",
      async ({ params, body, set, request }) => {
        const event = {
          action: "ops.run_resumed",
          target: { type: "ops_run", id: params.id },
          detail: { decision: body.decision ?? null },
        };
        try {
          const started = await service.resume(params.id, {
            env: body.env ?? {},
            params: body.params,
            decision: body.decision,
          });
          set.status = 202;
          await recordOps(request, event);
          return { run_id: started.runId, status: "running" };
        } catch (err) {
          await recordOps(request, event, err);
          return refused(err);
        }
      },
      {
        params: validated(OpsRunParams, "params"),
        body: validated(OpsResumeBody, "body"),
        parse: "json",
        permission: "ops.run",
        detail: {
          ...guard.detail,
          summary: "Resume a stopped or paused run here (decision: retry | skip the in-flight step)",
        },
        response: responses({ 202: OpsStartResponse, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody }),
      },
    )
    .post(
      "/runs/:id/cancel",
      async ({ params, request }) => {
        const event = { action: "ops.run_cancelled", target: { type: "ops_run", id: params.id } };
        try {
          const status = await service.cancel(params.id);
          await recordOps(request, { ...event, detail: { status } });
          return { run_id: params.id, status };
        } catch (err) {
          await recordOps(request, event, err);
          return refused(err);
        }
      },
      {
        params: validated(OpsRunParams, "params"),
        permission: "ops.run",
        detail: { ...guard.detail, summary: "Cancel a run (compensations of completed steps run)" },
        response: responses({ 200: OpsCancelResponse, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody }),
      },
    );
}
