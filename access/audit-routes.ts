/**
 * GET /api/admin/audit: the audit log, newest first, with filters, and the verdict of its hash
 * chain. Needs `audit.read` (admins and owners of an organisation, and the operator). An
 * organisation's admin sees their organisation's chain only; the operator sees every chain, or
 * one with `org_id` (`org_id=platform` for the events of no organisation).
 *
 * The verdict covers every entry of the chains in scope, not only the page returned: a filter
 * narrows what is listed, never what is checked.
 *
 * @example
 * curl -H "Authorization: Bearer $TOKEN" 'localhost:8080/api/admin/audit?action=auth.signed_in&outcome=failure&limit=20'
 * # {"entries":[...],"next_cursor":"al-...","chain":{"chain":"o-...","ok":true,"head":"9f2c...","length":42},"chains":[...]}
 */
import { createHash } from "node:crypto";
import { Elysia } from "elysia";
import { HttpError } from "../runtime/http/errors.ts";
import { accessControl, principalOf } from "../runtime/http/permission.ts";
import { responses, validated } from "../runtime/http/route-schemas.ts";
import { ErrorBody } from "../schemas/errors.ts";
import type { AuditEntry, AuditLog, ChainReport } from "./audit-log.ts";
import { AuditListResponse, AuditQuery } from "./audit-schemas.ts";

const DEFAULT_LIMIT = 50;

function detailOf(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function entryBody(row: AuditEntry) {
  return {
    id: row.id,
    chain: row.chain,
    seq: row.seq,
    at: row.at.toISOString(),
    org_id: row.orgId,
    action: row.action,
    outcome: row.outcome,
    actor: {
      kind: row.actorKind,
      user_id: row.actorUserId,
      key_id: row.actorKeyId,
      impersonator_id: row.impersonatorId,
    },
    target: row.targetType === null && row.targetId === null ? null : { type: row.targetType, id: row.targetId },
    ip: row.ip,
    request_id: row.requestId,
    detail: detailOf(row.detail),
    prev_hash: row.prevHash,
    hash: row.hash,
  };
}

function verdictBody(report: ChainReport) {
  return report.ok
    ? { chain: report.chain, ok: true as const, head: report.head, length: report.length }
    : {
        chain: report.chain,
        ok: false as const,
        index: report.index,
        entry_id: report.entryId,
        seq: report.seq,
        reason: report.reason,
      };
}

/**
 * The verdict over several chains: the first broken one, or, when all are whole, a head that
 * commits to every chain's head (SHA-256 of their `chain:head` lines) for keeping elsewhere.
 */
function overall(reports: ChainReport[]) {
  const broken = reports.find((r) => !r.ok);
  if (broken) return verdictBody(broken);
  if (reports.length === 1) return verdictBody(reports[0] as ChainReport);
  const heads = reports.map((r) => `${r.chain}:${r.ok ? r.head : ""}\n`).join("");
  return {
    chain: "all",
    ok: true as const,
    head: createHash("sha256").update(heads).digest("hex"),
    length: reports.reduce((n, r) => n + (r.ok ? r.length : 0), 0),
  };
}

/**
 * The audit log's routes.
 *
 * @example app.use(auditRoutes({ auditLog }));
 */
export function auditRoutes(deps: { auditLog: AuditLog }) {
  const { auditLog } = deps;
  return new Elysia({ name: "aragora-audit", prefix: "/api/admin" }).use(accessControl).get(
    "/audit",
    async ({ query, request }) => {
      const p = principalOf(request);
      const operator = p.roles.includes("operator");
      let chains: string[] | undefined;
      if (query.org_id !== undefined) {
        if (!operator && query.org_id !== p.orgId) {
          throw new HttpError(403, "forbidden", "only the operator reads another organisation's audit log", [
            { field: "query.org_id", rule: "must be your own organisation" },
          ]);
        }
        chains = [query.org_id];
      } else if (!operator) {
        chains = [p.orgId];
      }
      const [page, scope] = await Promise.all([
        auditLog.list({
          chains,
          action: query.action,
          actorUserId: query.actor_user_id,
          outcome: query.outcome,
          since: query.since === undefined ? undefined : new Date(query.since),
          until: query.until === undefined ? undefined : new Date(query.until),
          cursor: query.cursor,
          limit: query.limit ?? DEFAULT_LIMIT,
        }),
        chains === undefined ? auditLog.chains() : Promise.resolve(chains),
      ]);
      const reports: ChainReport[] = [];
      for (const chain of scope) reports.push(await auditLog.verify(chain));
      return {
        entries: page.entries.map(entryBody),
        next_cursor: page.nextCursor,
        chain: overall(reports),
        chains: reports.map(verdictBody),
      };
    },
    {
      permission: "audit.read",
      query: validated(AuditQuery, "query"),
      detail: {
        summary:
          "The audit log (newest first, filtered) and the verdict of its hash chain: your organisation's, or every one for the operator",
        tags: ["admin"],
      },
      response: responses({ 200: AuditListResponse, 401: ErrorBody, 403: ErrorBody, 422: ErrorBody }),
    },
  );
}
