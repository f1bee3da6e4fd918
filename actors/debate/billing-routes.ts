/**
 * /api/billing: what the caller's organisation's debates spent (tokens and cost, per day, user and
 * agent), and its monthly cost cap. The operator chooses the organisation with `X-Org-ID`, as on
 * every route; anyone else reads only their own.
 *
 * @example
 * curl -H "Authorization: Bearer $TOKEN" 'localhost:8080/api/billing/usage?from=2026-05-01&to=2026-05-31'
 * curl -X PUT -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
 *      -d '{"monthly_cost_cap_usd": 50}' localhost:8080/api/billing/cap
 */
import { Elysia } from "elysia";
import { HttpError } from "../../runtime/http/errors.ts";
import { accessControl, principalOf } from "../../runtime/http/permission.ts";
import { responses, validated } from "../../runtime/http/route-schemas.ts";
import type { Logger } from "../../runtime/log.ts";
import { CapState, SetCapBody, UsageQuery, UsageResponse } from "../../schemas/billing.ts";
import { ErrorBody } from "../../schemas/errors.ts";
import { type CapState as Cap, type CostCaps, monthOf } from "./cost-caps.ts";
import type { DebateStore } from "./debate-store.ts";
import { OPERATOR_CREATOR } from "./debate-store.ts";
import { debateUsages, usageReport } from "./usage.ts";

export interface BillingRoutesDeps {
  store: Pick<DebateStore, "usage" | "events">;
  caps: CostCaps;
  log: Logger;
  /** Wall-clock epoch ms; default Date.now. */
  now?: () => number;
}

const DAY_MS = 86_400_000;
/** The longest range one report covers: a year and a day (so any calendar year fits). */
const MAX_DAYS = 366;
const TAGS = ["billing"];

const capBody = (orgId: string, cap: Cap) => ({
  organisation_id: orgId,
  monthly_cost_cap_usd: cap.capUsd,
  source: cap.source,
  month: cap.month,
  month_cost_usd: cap.costUsd ?? 0,
});

/**
 * The billing routes.
 *
 * @example app.use(billingRoutes({ store, caps, log }));
 */
export function billingRoutes({ store, caps, log, now = Date.now }: BillingRoutesDeps) {
  return new Elysia({ name: "aragora-billing", prefix: "/api/billing" })
    .use(accessControl)
    .get(
      "/usage",
      async ({ query, request }) => {
        const { orgId } = principalOf(request);
        const today = new Date(now()).toISOString().slice(0, 10);
        const from = query.from ?? monthOf(now()).start.toISOString().slice(0, 10);
        const to = query.to ?? today;
        const start = Date.parse(`${from}T00:00:00Z`);
        const end = Date.parse(`${to}T00:00:00Z`) + DAY_MS;
        if (end <= start) {
          throw new HttpError(422, "validation_failed", "query.to: must not be before from", [
            { field: "query.to", rule: "must not be before from" },
          ]);
        }
        if (end - start > MAX_DAYS * DAY_MS) {
          const rule = `must be at most ${MAX_DAYS} days after from`;
          throw new HttpError(422, "validation_failed", `query.to: ${rule}`, [{ field: "query.to", rule }]);
        }
        const [debates, cap] = await Promise.all([
          debateUsages(store, orgId, new Date(start), new Date(end)),
          caps.state(orgId),
        ]);
        return { organisation_id: orgId, from, to, ...usageReport(debates), cap: capBody(orgId, cap) };
      },
      {
        permission: "billing.read",
        query: validated(UsageQuery, "query"),
        detail: {
          summary: "Tokens and cost of the organisation's debates, per day, user and agent (from/to: UTC dates)",
          tags: TAGS,
        },
        response: responses({ 200: UsageResponse, 401: ErrorBody, 403: ErrorBody, 422: ErrorBody }),
      },
    )
    .get(
      "/cap",
      async ({ request }) => {
        const { orgId } = principalOf(request);
        return capBody(orgId, await caps.state(orgId));
      },
      {
        permission: "billing.read",
        detail: { summary: "The organisation's monthly cost cap and the month's cost so far", tags: TAGS },
        response: responses({ 200: CapState, 401: ErrorBody, 403: ErrorBody }),
      },
    )
    .put(
      "/cap",
      async ({ body, request }) => {
        const p = principalOf(request);
        const by = p.userId ?? OPERATOR_CREATOR;
        const cap = await caps.set(p.orgId, body.monthly_cost_cap_usd, by);
        log.info(
          { org_id: p.orgId, by, monthly_cost_cap_usd: body.monthly_cost_cap_usd, source: cap.source },
          "monthly cost cap set",
        );
        return capBody(p.orgId, cap);
      },
      {
        permission: "billing.manage",
        body: validated(SetCapBody, "body"),
        parse: "json",
        detail: {
          summary: "Set the organisation's monthly cost cap (null: back to the configured default)",
          tags: TAGS,
        },
        response: responses({ 200: CapState, 401: ErrorBody, 403: ErrorBody, 422: ErrorBody }),
      },
    );
}
