/**
 * The schedulers' operator API, under /api/admin like the shell's operator routes: admin.read to
 * look, admin.write to start a run (the operator's permissions):
 *
 * - `GET  /api/admin/schedulers`                              every schedule: next and last run, outcome, totals
 * - `POST /api/admin/schedulers/:name/run`                    start a run now (202; 409 while one is running)
 * - `GET  /api/admin/schedulers/receipt-retention/status`     the runbook's receipt retention status document
 * - `POST /api/admin/schedulers/receipt-retention/cleanup`    run receipt retention now and wait for the result
 *
 * @example
 * curl -H "Authorization: Bearer $ARAGORA_API_TOKEN" http://localhost:8080/api/admin/schedulers
 */
import { Elysia } from "elysia";
import type { ActorRef } from "../../runtime/actor/index.ts";
import type { AuditRecorder } from "../../runtime/audit.ts";
import type { Config } from "../../runtime/config.ts";
import { auditedRequest } from "../../runtime/http/audit-request.ts";
import { HttpError } from "../../runtime/http/errors.ts";
import { accessControl } from "../../runtime/http/permission.ts";
import { responses, validated } from "../../runtime/http/route-schemas.ts";
import { ErrorBody } from "../../schemas/errors.ts";
import {
  ReceiptCleanupResponse,
  ReceiptRetentionStatus,
  RunNowResponse,
  ScheduleParams,
  SchedulersResponse,
} from "../../schemas/schedulers.ts";
import { RECEIPT_RETENTION, receiptRetentionStatus } from "./receipt-retention.ts";
import type { RunNowReply, SchedulerMsg, ScheduleStatus } from "./scheduler-actor.ts";

export interface SchedulerRoutesDeps {
  config: Config;
  /** The running schedules by name. */
  schedules: () => ReadonlyMap<string, ActorRef<SchedulerMsg>>;
  /** Where runs started by hand are recorded (on the platform's chain). */
  audit: AuditRecorder;
}

const STATUS_TIMEOUT_MS = 5_000;
/** A manual receipt cleanup is one DELETE; an hour covers the largest table. */
const CLEANUP_TIMEOUT_MS = 3_600_000;

export function schedulerRoutes(deps: SchedulerRoutesDeps) {
  const { config, audit } = deps;
  /** Records a run started by hand: what the operator asked, and whether the schedule took it. */
  const recordRun = (request: Request, name: string, started: boolean, detail = {}) =>
    audit.record({
      action: "admin.schedule_run_started",
      outcome: started ? "success" : "failure",
      ...auditedRequest(request),
      orgId: null,
      target: { type: "schedule", id: name },
      detail,
    });
  const status = async (ref: ActorRef<SchedulerMsg>) =>
    ref.ask<ScheduleStatus>({ type: "status" }, { timeoutMs: STATUS_TIMEOUT_MS });

  return new Elysia({ name: "aragora-schedulers", prefix: "/api/admin/schedulers" })
    .use(accessControl)
    .get("", async () => ({ schedulers: await Promise.all([...deps.schedules().values()].map(status)) }), {
      permission: "admin.read",
      detail: {
        summary: "Every schedule with its next and last run, outcome and totals",
        tags: ["admin"],
      },
      response: responses({ 200: SchedulersResponse, 401: ErrorBody, 403: ErrorBody }),
    })
    .get(
      "/receipt-retention/status",
      async () => {
        const ref = deps.schedules().get(RECEIPT_RETENTION);
        return receiptRetentionStatus(ref ? await status(ref) : undefined, {
          retentionDays: config.receiptRetentionDays,
          intervalHours: config.receiptCleanupIntervalHours,
        });
      },
      {
        permission: "admin.read",
        detail: {
          summary: "Receipt retention scheduler: configuration and run statistics",
          tags: ["admin"],
        },
        response: responses({ 200: ReceiptRetentionStatus, 401: ErrorBody, 403: ErrorBody }),
      },
    )
    .post(
      "/receipt-retention/cleanup",
      async ({ request }) => {
        const ref = deps.schedules().get(RECEIPT_RETENTION);
        if (!ref) throw new HttpError(503, "scheduler_unavailable", "the receipt retention scheduler is not running");
        const reply = await ref.ask<RunNowReply>({ type: "run_now", wait: true }, { timeoutMs: CLEANUP_TIMEOUT_MS });
        await recordRun(request, RECEIPT_RETENTION, reply.started, {
          wait: true,
          ...(reply.started
            ? { outcome: reply.outcome ?? null, receipts_deleted: reply.result?.items ?? 0 }
            : { reason: "already_running" }),
        });
        if (!reply.started) throw new HttpError(409, "already_running", reply.reason ?? "a run is in progress");
        return {
          status: reply.outcome === "succeeded" ? ("completed" as const) : ("failed" as const),
          receipts_deleted: reply.result?.items ?? 0,
          error: reply.error ?? null,
        };
      },
      {
        permission: "admin.write",
        detail: {
          summary: "Run receipt retention now and return how many receipts it deleted",
          tags: ["admin"],
        },
        response: responses({
          200: ReceiptCleanupResponse,
          401: ErrorBody,
          403: ErrorBody,
          409: ErrorBody,
          503: ErrorBody,
        }),
      },
    )
    .post(
      "/:name/run",
      async ({ params, set, request }) => {
        const ref = deps.schedules().get(params.name);
        if (!ref) throw new HttpError(404, "not_found", `no schedule "${params.name}"`);
        const reply = await ref.ask<RunNowReply>({ type: "run_now" }, { timeoutMs: STATUS_TIMEOUT_MS });
        await recordRun(request, params.name, reply.started, reply.started ? {} : { reason: "already_running" });
        if (!reply.started) throw new HttpError(409, "already_running", reply.reason ?? "a run is in progress");
        set.status = 202;
        return reply;
      },
      {
        params: validated(ScheduleParams, "params"),
        permission: "admin.write",
        detail: {
          summary: "Start a schedule's job now (its next scheduled run is unchanged)",
          tags: ["admin"],
        },
        response: responses({
          202: RunNowResponse,
          401: ErrorBody,
          403: ErrorBody,
          404: ErrorBody,
          409: ErrorBody,
          422: ErrorBody,
        }),
      },
    );
}
