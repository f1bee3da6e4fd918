/**
 * HTTP routes of the debates: three route groups, each an Elysia plugin with its prefix:
 * `/api/debates` (create, list, read, events, cancel, exports, receipt), `/api/receipts` (the public
 * key) and `/api/leaderboard`. `/export` is declared before `/:id` so the static path is never read
 * as an id. Refusals are thrown as HttpError for the one error mapper.
 *
 * Isolation: every query is scoped to the caller's organisation (the request's principal); a
 * debate of another organisation answers exactly as a debate that does not exist (404), so its id
 * tells a caller nothing. The creator is kept as the debate's user.
 *
 * @example
 * curl -X POST -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
 *      -d '{"question":"Tabs or spaces?"}' localhost:8080/api/debates
 */
import { Elysia } from "elysia";
import { HttpError } from "../../runtime/http/errors.ts";
import { accessControl, principalOf } from "../../runtime/http/permission.ts";
import { responses, validated } from "../../runtime/http/route-schemas.ts";
import { streamedResponse } from "../../runtime/http/streamed-response.ts";
import { CostCapErrorBody } from "../../schemas/billing.ts";
import {
  CancelResponse,
  CreateDebateBody,
  CreateDebateResponse,
  DebateIdParams,
  DebateRecord,
  EventsQuery,
  EventsResponse,
  ExportQuery,
  ExportText,
  ListDebatesQuery,
  ListDebatesResponse,
  PublicKeyResponse,
  RankingsResponse,
  ReceiptDocument,
  SingleExportQuery,
} from "../../schemas/debates.ts";
import { ErrorBody } from "../../schemas/errors.ts";
import type { CostCaps } from "./cost-caps.ts";
import { debateRecord, debateSummary, EXPORT_TYPES, exportDebate, exportDebates } from "./debate-export.ts";
import { creatorOf, type DebateStore, decodeCursor, encodeCursor } from "./debate-store.ts";
import { topicOf } from "./debate-streams.ts";
import { DebateRequestError, type DebateSupervisor } from "./debate-supervisor.ts";
import { type ReceiptKey, receiptDocument } from "./receipt.ts";
import type { DebateEventEnvelope } from "./types.ts";

export interface DebateRoutesDeps {
  store: DebateStore;
  /** Undefined when no agent directory is configured: creating debates answers 503. */
  debates: DebateSupervisor | undefined;
  key: ReceiptKey;
  /** Monthly cost caps: a new debate of an organisation over its cap answers 402. */
  caps?: CostCaps;
}

const parseEvents = (payloads: { payload: string }[]) =>
  payloads.map((p) => JSON.parse(p.payload) as DebateEventEnvelope);

export function debateRoutes({ store, debates, key, caps }: DebateRoutesDeps) {
  /** The debate `id` of the caller's organisation, or the 404 a missing one gets. */
  const debateOf = async (request: Request, id: string) => {
    const row = await store.get(id, principalOf(request).orgId);
    if (!row) throw new HttpError(404, "not_found", `no debate ${id}`);
    return row;
  };
  const debateGroup = new Elysia({ name: "aragora-debates", prefix: "/api/debates" })
    .use(accessControl)
    .post(
      "",
      async ({ body, status, request }) => {
        if (!debates) {
          throw new HttpError(503, "no_agents", "no agent directory is configured on this server", undefined, {
            "retry-after": "30",
          });
        }
        if (!debates.acceptingNew) {
          throw new HttpError(503, "draining", "the server is shutting down; retry on another node", undefined, {
            "retry-after": "5",
          });
        }
        const principal = principalOf(request);
        const admitted = caps?.admit(principal.orgId);
        if (admitted) await admitted;
        try {
          const debateId = await debates.create(body, creatorOf(principal));
          caps?.started(debateId, principal.orgId);
          return status(201, { debate_id: debateId, status: "running", ws_topic: topicOf(debateId) });
        } catch (err) {
          if (err instanceof DebateRequestError) {
            throw new HttpError(422, "validation_failed", err.message, [{ field: err.field, rule: err.rule }]);
          }
          throw err;
        }
      },
      {
        body: validated(CreateDebateBody, "body"),
        parse: "json",
        permission: "debates.create",
        detail: { summary: "Start a debate; watch it on the WebSocket topic debate:<id>", tags: ["debates"] },
        response: responses({
          201: CreateDebateResponse,
          400: ErrorBody,
          402: CostCapErrorBody,
          413: ErrorBody,
          422: ErrorBody,
          503: ErrorBody,
        }),
      },
    )
    .get(
      "",
      async ({ query, request }) => {
        const after = query.cursor ? decodeCursor(query.cursor) : undefined;
        if (after === null) {
          const rule = "must be a next_cursor returned by this API";
          throw new HttpError(422, "validation_failed", `query.cursor: ${rule}`, [{ field: "query.cursor", rule }]);
        }
        const limit = query.limit ?? 50;
        const rows = await store.list(principalOf(request).orgId, {
          workspaceId: query.workspace_id,
          status: query.status,
          agent: query.agent,
          since: query.since ? new Date(query.since) : undefined,
          limit: limit + 1,
          after,
        });
        const page = rows.slice(0, limit);
        const last = page.at(-1);
        return {
          debates: page.map(debateSummary),
          next_cursor:
            rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt.getTime(), id: last.id }) : null,
        };
      },
      {
        query: validated(ListDebatesQuery, "query"),
        permission: "debates.read",
        detail: {
          summary: "List debates, newest first (filters workspace_id, status, agent, since; cursor pagination)",
          tags: ["debates"],
        },
        response: responses({ 200: ListDebatesResponse, 422: ErrorBody }),
      },
    )
    .get(
      "/export",
      ({ query, request }) => {
        const format = query.format ?? "json";
        const body = exportDebates(
          store,
          principalOf(request).orgId,
          {
            workspaceId: query.workspace_id,
            status: query.status,
            agent: query.agent,
            since: query.since ? new Date(query.since) : undefined,
          },
          format,
        );
        return streamedResponse(body, {
          headers: {
            "content-type": EXPORT_TYPES[format],
            "content-disposition": `attachment; filename="debates.${format}"`,
          },
        });
      },
      {
        query: validated(ExportQuery, "query"),
        permission: "debates.export",
        detail: {
          summary: "Export every debate matching the filters (json, jsonl, csv, md; streamed)",
          tags: ["debates"],
        },
        response: responses({ 200: ExportText, 422: ErrorBody }),
      },
    )
    .get("/:id", async ({ params, request }) => debateRecord(await debateOf(request, params.id)), {
      params: validated(DebateIdParams, "params"),
      permission: "debates.read",
      detail: {
        summary: "One debate: configuration, status, consensus, baseline, agreement, usage",
        tags: ["debates"],
      },
      response: responses({ 200: DebateRecord, 404: ErrorBody, 422: ErrorBody }),
    })
    .get(
      "/:id/events",
      async ({ params, query, request }) => {
        const row = await debateOf(request, params.id);
        const events = parseEvents(await store.events(params.id, query.since_seq ?? 0, query.limit ?? 10_000));
        // With nothing after since_seq, the seq to ask from next time: since_seq, or the log's end
        // when since_seq is past it (the row, read first, holds every seq a client can have seen).
        const next = events.at(-1)?.seq ?? Math.min(query.since_seq ?? 0, row.lastSeq);
        return { debate_id: params.id, events, last_seq: next };
      },
      {
        params: validated(DebateIdParams, "params"),
        query: validated(EventsQuery, "query"),
        permission: "debates.read",
        detail: { summary: "The debate's event log after since_seq, in seq order", tags: ["debates"] },
        response: responses({ 200: EventsResponse, 404: ErrorBody, 422: ErrorBody }),
      },
    )
    .post(
      "/:id/cancel",
      async ({ params, request }) => {
        const row = await debateOf(request, params.id);
        if (row.status !== "running" || !debates?.isRunning(params.id)) {
          throw new HttpError(409, "not_running", `debate ${params.id} is ${row.status}, not running here`);
        }
        await debates.cancel(params.id, "cancelled by request");
        const after = await store.get(params.id, row.owner.orgId);
        return { debate_id: params.id, status: after?.status ?? "cancelled" };
      },
      {
        params: validated(DebateIdParams, "params"),
        permission: "debates.cancel",
        detail: { summary: "Cancel a running debate (it ends with status cancelled)", tags: ["debates"] },
        response: responses({ 200: CancelResponse, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody }),
      },
    )
    .get(
      "/:id/export",
      async ({ params, query, set, request }) => {
        const row = await debateOf(request, params.id);
        const format = query.format ?? "json";
        const events = parseEvents(await store.events(params.id, 0));
        set.headers["content-type"] = EXPORT_TYPES[format];
        set.headers["content-disposition"] = `attachment; filename="${params.id}.${format}"`;
        return exportDebate(row, events, format);
      },
      {
        params: validated(DebateIdParams, "params"),
        query: validated(SingleExportQuery, "query"),
        permission: "debates.export",
        detail: { summary: "One debate with its transcript (json, jsonl, csv, md)", tags: ["debates"] },
        response: responses({ 200: ExportText, 404: ErrorBody, 422: ErrorBody }),
      },
    )
    .get(
      "/:id/receipt",
      async ({ params, request }) => {
        // The document is sent as a Response: the text that was signed, byte for byte.
        const { orgId } = principalOf(request);
        const text = await store.receipt(params.id, orgId);
        if (!text) {
          const row = await debateOf(request, params.id);
          throw new HttpError(
            409,
            "no_receipt",
            `debate ${params.id} is ${row.status}; its receipt is issued when it ends`,
          );
        }
        // The receipt is stored without its chain's entries: they are rebuilt from the log, and the
        // events travel with it, so `aragora receipt verify` can check each one offline.
        const length = (JSON.parse(text) as { receipt?: { hash_chain?: { length?: unknown } } }).receipt?.hash_chain
          ?.length;
        const rows = await store.events(params.id, 0, typeof length === "number" ? length : undefined);
        return new Response(receiptDocument(text, rows), {
          headers: { "content-type": "application/json; charset=utf-8" },
        });
      },
      {
        params: validated(DebateIdParams, "params"),
        permission: "receipts.read",
        detail: { summary: "The signed decision receipt, with the events its hash chain covers", tags: ["receipts"] },
        response: responses({ 200: ReceiptDocument, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody }),
      },
    );
  const receiptGroup = new Elysia({ name: "aragora-receipts", prefix: "/api/receipts" })
    .use(accessControl)
    .get("/public-key", () => ({ algorithm: "Ed25519" as const, key_id: key.keyId, public_key: key.publicKeyPem }), {
      // Anyone verifying a receipt offline needs the key; it is public by nature.
      permission: "public",
      detail: { summary: "The Ed25519 public key receipts are signed with (PEM)", tags: ["receipts"] },
      response: responses({ 200: PublicKeyResponse }),
    });
  const leaderboardGroup = new Elysia({ name: "aragora-leaderboard", prefix: "/api/leaderboard" })
    .use(accessControl)
    .get("/rankings", async ({ request }) => ({ agents: await store.rankings(principalOf(request).orgId) }), {
      permission: "leaderboard.read",
      detail: {
        summary: "Agents by ELO, from the organisation's debates (1500 start, K=32, pairwise per finished debate)",
        tags: ["leaderboard"],
      },
      response: responses({ 200: RankingsResponse }),
    });
  return new Elysia({ name: "aragora-debate-routes" }).use(debateGroup).use(receiptGroup).use(leaderboardGroup);
}
