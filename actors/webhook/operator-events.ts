/**
 * Who may receive the operator's events (ops run events, schemas/webhooks.ts OPS_WEBHOOK_EVENT_TYPES).
 *
 * An ops run is the server's, not an organisation's: its journal names playbooks, params (secrets
 * masked), steps and errors that can be about any organisation (a debate run for one, an incident
 * record, a restore). So an endpoint takes them only when a caller holding `ops.read` (the
 * operator: no organisation role grants it) listed them by name; an endpoint that lists no types
 * takes all of its organisation's events and none of the operator's. Such an endpoint sits in the
 * organisation the operator acted in, but only the operator sees or changes it: for anyone else
 * it answers 404 as a missing one, its deliveries are left out of the dead letters and the metrics
 * summary, and naming an
 * ops type in `event_types` is a 403. An organisation's admin therefore can neither subscribe to
 * the runs nor re-point (URL, secret) an endpoint that receives them.
 *
 * @example
 * refuseOpsEventTypes(principal, body.event_types); // 403 for an organisation's admin naming ops_run_finished
 * if (!seesOperatorEndpoint(principal, row)) throw notFound(row.id);
 */
import { HttpError } from "../../runtime/http/errors.ts";
import { allowed } from "../../runtime/http/permission.ts";
import type { Principal } from "../../runtime/http/principal.ts";
import { isOpsEventType, OPS_WEBHOOK_EVENT_TYPES } from "../../schemas/webhooks.ts";
import { type EndpointRow, eventTypesOf } from "./webhook-store.ts";

/** Whether the caller is the operator, who may receive ops run events. */
export function mayTakeOpsEvents(principal: Principal): boolean {
  return allowed(principal, "ops.read");
}

/**
 * The event types `principal` may not see in its organisation's deliveries (dead letters, the
 * metrics summary): the operator's, unless it is the operator.
 *
 * @example hiddenEventTypes(orgAdmin) // ["ops_run_started", ...]
 */
export function hiddenEventTypes(principal: Principal): readonly string[] {
  return mayTakeOpsEvents(principal) ? [] : OPS_WEBHOOK_EVENT_TYPES;
}

/**
 * Whether an endpoint takes ops run events (it lists one by name).
 *
 * @example takesOpsEvents({ eventTypes: '["ops_run_finished"]' }) // true; '[]' is false
 */
export function takesOpsEvents(row: Pick<EndpointRow, "eventTypes">): boolean {
  return eventTypesOf(row).some(isOpsEventType);
}

/**
 * Whether `principal` may see (and so change) this endpoint: every endpoint of its organisation,
 * except those that take the operator's events, which only the operator sees.
 *
 * @example seesOperatorEndpoint(orgAdmin, row) // false when row lists ops_run_finished
 */
export function seesOperatorEndpoint(principal: Principal, row: Pick<EndpointRow, "eventTypes">): boolean {
  return mayTakeOpsEvents(principal) || !takesOpsEvents(row);
}

/**
 * A 403 naming `body.event_types` when a caller who is not the operator lists an ops run event.
 *
 * @example refuseOpsEventTypes(principal, ["debate_end"]) // nothing
 */
export function refuseOpsEventTypes(principal: Principal, eventTypes: readonly string[] | undefined): void {
  const named = (eventTypes ?? []).filter(isOpsEventType);
  if (named.length === 0 || mayTakeOpsEvents(principal)) return;
  const rule = `ops run events (${OPS_WEBHOOK_EVENT_TYPES.join(", ")}) are the operator's: only a caller holding ops.read may subscribe to them (named: ${named.join(", ")})`;
  throw new HttpError(403, "forbidden", `body.event_types: ${rule}`, [{ field: "body.event_types", rule }]);
}
