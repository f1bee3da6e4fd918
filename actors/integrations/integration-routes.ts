/**
 * An organisation's integrations, for its owners and admins (`integrations.manage`):
 *
 * - `POST /api/integrations` {kind, name, enabled?, webhook_url? | token_url?, resource_url?,
 *   client_id?, client_secret?, refresh_token?, auth_method?, scope?}: a new Slack, Discord, Teams
 *   or OAuth2 integration (201). `GET /api/integrations`, `GET /api/integrations/:id`,
 *   `PATCH /api/integrations/:id` (credentials not given are kept; enabling clears why the server
 *   disabled it), `DELETE /api/integrations/:id` (with its deliveries).
 * - `GET /api/integrations/:id/deliveries?limit=50`: the debates' outcomes posted to it, newest
 *   first, each with its attempts; `GET /api/integrations/dead-letters?limit=100` and
 *   `POST /api/integrations/dead-letters/:delivery_id/retry`: the delivery engine's routes
 *   (../delivery/delivery-routes.ts). `GET /api/integrations/:id` shows its circuit breaker.
 * - `GET /api/integrations/health` and `GET /api/integrations/metrics`: the runbook's shapes of the
 *   instrumented integration store.
 *
 * Credentials (a chat webhook URL is one, as are an OAuth2 client secret and tokens) are stored
 * sealed and never answered: only whether each is set and its last four characters. Every URL is
 * checked at registration by the SSRF guard's rules (`validateOutboundUrl`): one that reaches
 * inside (loopback, private, link-local, metadata ...) is a 422 naming the field; the guarded
 * sender checks again at each send. Everything is scoped to the caller's organisation: another
 * organisation's integration answers 404, as a missing one.
 *
 * @example
 * curl -X POST -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
 *   -d '{"kind":"slack","name":"alerts","webhook_url":"https://hooks.slack.com/services/T/B/x"}' localhost:8080/api/integrations
 */
import { Elysia } from "elysia";
import type { AuditRecorder } from "../../runtime/audit.ts";
import { auditedRequest } from "../../runtime/http/audit-request.ts";
import { HttpError } from "../../runtime/http/errors.ts";
import { type OutboundPolicy, validateOutboundUrl } from "../../runtime/http/outbound-guard.ts";
import { accessControl, principalOf } from "../../runtime/http/permission.ts";
import { responses, validated } from "../../runtime/http/route-schemas.ts";
import type { Logger } from "../../runtime/log.ts";
import { ErrorBody } from "../../schemas/errors.ts";
import {
  CreateIntegrationBody,
  IntegrationDeadLettersResponse,
  IntegrationDeliveriesResponse,
  IntegrationDeliveryIdParams,
  IntegrationIdParams,
  type IntegrationKind,
  IntegrationListResponse,
  IntegrationStoreHealthResponse,
  IntegrationStoreMetricsResponse,
  IntegrationView,
  RemovedIntegrationResponse,
  UpdateIntegrationBody,
} from "../../schemas/integrations.ts";
import { deliveryFields, deliveryRoutes } from "../delivery/delivery-routes.ts";
import type { DeliveryRow, DeliveryStore } from "../delivery/delivery-store.ts";
import type { TargetStatus } from "../delivery/target-actor.ts";
import type { TargetActors } from "../delivery/target-actors.ts";
import type { InstrumentedIntegrationStore } from "./instrumented-integration-store.ts";
import type { IntegrationRow, IntegrationStore } from "./integration-store.ts";

export interface IntegrationRoutesDeps {
  store: InstrumentedIntegrationStore;
  /** Opens the sealed credentials (for their last four characters). */
  secrets: Pick<IntegrationStore, "secretsOf">;
  /** The delivery engine's ledger (../delivery/delivery-store.ts). */
  deliveries: Pick<DeliveryStore, "deliveries" | "deadLetters" | "retryDeadLetter" | "removeTarget">;
  actors: Pick<TargetActors, "spawn" | "reload" | "remove" | "enqueue" | "status">;
  audit: AuditRecorder;
  log: Logger;
  /** Wall-clock epoch milliseconds. */
  now: () => number;
  /** What an integration's URLs may reach (loopback only when ARAGORA_OUTBOUND_ALLOW_LOOPBACK; https in production). */
  urlPolicy: OutboundPolicy;
}

const TAGS = ["integrations"];
/** Who made a change with the operator's token (which has no user). */
const OPERATOR = "operator";
const CHAT: ReadonlySet<IntegrationKind> = new Set(["slack", "discord", "teams"]);
const URL_FIELDS = ["webhook_url", "token_url", "resource_url"] as const;
const OAUTH2_REQUIRED = ["token_url", "resource_url", "client_id", "client_secret", "refresh_token"] as const;
const OAUTH2_ONLY = [
  "token_url",
  "resource_url",
  "client_id",
  "client_secret",
  "refresh_token",
  "auth_method",
  "scope",
] as const;

type Fields = Partial<Omit<CreateIntegrationBody, "kind" | "name" | "enabled">>;

const invalid = (field: string, rule: string) =>
  new HttpError(422, "validation_failed", `${field}: ${rule}`, [{ field, rule }]);

/** A URL the server must not send to: 422 naming the field and why (never the URL: it may hold a token). */
function refuseUrls(body: Fields, policy: OutboundPolicy): void {
  for (const field of URL_FIELDS) {
    const url = body[field];
    if (url === undefined) continue;
    const checked = validateOutboundUrl(url, policy);
    if (!checked.ok) throw invalid(`body.${field}`, checked.reason);
  }
}

/** The fields a kind takes: a chat kind its webhook URL, oauth2 its token endpoint and client. */
function checkFieldsOf(kind: IntegrationKind, body: Fields, creating: boolean): void {
  if (CHAT.has(kind)) {
    if (creating && body.webhook_url === undefined) throw invalid("body.webhook_url", `required for ${kind}`);
    for (const f of OAUTH2_ONLY) if (body[f] !== undefined) throw invalid(`body.${f}`, `not taken by ${kind}`);
    return;
  }
  if (body.webhook_url !== undefined) throw invalid("body.webhook_url", "not taken by oauth2");
  if (creating)
    for (const f of OAUTH2_REQUIRED) if (body[f] === undefined) throw invalid(`body.${f}`, "required for oauth2");
}

/** The settings and secrets stored for `kind`, from the body over what was stored. */
function partsOf(
  kind: IntegrationKind,
  body: Fields,
  settings: Record<string, unknown>,
  secrets: Record<string, unknown>,
): { settings: Record<string, unknown>; secrets: Record<string, unknown> } {
  if (CHAT.has(kind)) return { settings: {}, secrets: { webhook_url: body.webhook_url ?? secrets.webhook_url } };
  const nextSettings: Record<string, unknown> = {
    tokenUrl: body.token_url ?? settings.tokenUrl,
    resourceUrl: body.resource_url ?? settings.resourceUrl,
    clientId: body.client_id ?? settings.clientId,
    authMethod: body.auth_method ?? settings.authMethod ?? "client_secret_basic",
  };
  const scope = body.scope ?? settings.scope;
  if (scope !== undefined) nextSettings.scope = scope;
  // A new client secret or refresh token makes the access token the server holds meaningless.
  const replaced = body.client_secret !== undefined || body.refresh_token !== undefined;
  const nextSecrets: Record<string, unknown> = replaced
    ? {
        clientSecret: body.client_secret ?? secrets.clientSecret,
        refreshToken: body.refresh_token ?? secrets.refreshToken,
      }
    : { ...secrets };
  return { settings: nextSettings, secrets: nextSecrets };
}

const lastFour = (value: unknown) =>
  typeof value === "string" && value.length > 0
    ? { set: true, last_four: value.length > 8 ? value.slice(-4) : null }
    : { set: false, last_four: null };

function viewOf(row: IntegrationRow, secrets: Record<string, unknown> | undefined): IntegrationView {
  const kind = row.kind as IntegrationKind;
  const settings = JSON.parse(row.settings) as Record<string, string | undefined>;
  const s = secrets ?? {};
  return {
    id: row.id,
    kind,
    name: row.name,
    enabled: row.enabled,
    disabled_reason: row.disabledReason,
    settings: CHAT.has(kind)
      ? {}
      : {
          token_url: settings.tokenUrl ?? "",
          resource_url: settings.resourceUrl ?? "",
          client_id: settings.clientId ?? "",
          auth_method: settings.authMethod ?? "client_secret_basic",
          ...(settings.scope === undefined ? {} : { scope: settings.scope }),
        },
    credentials: CHAT.has(kind)
      ? { webhook_url: lastFour(s.webhook_url) }
      : {
          client_secret: lastFour(s.clientSecret),
          refresh_token: lastFour(s.refreshToken),
          access_token: { set: typeof s.accessToken === "string", last_four: null },
        },
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/** The error a unique constraint raises (the name is taken), in either driver, possibly wrapped. */
function nameTaken(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | null | undefined, i = 0; e && i < 4; i++) {
    if (e.code === "23505" || (typeof e.code === "string" && e.code.startsWith("SQLITE_CONSTRAINT"))) return true;
    e = e.cause as typeof e;
  }
  return false;
}

function deliveryView(row: DeliveryRow) {
  return {
    ...deliveryFields(row),
    integration_id: row.endpointId,
    debate_id: row.eventKey.slice(0, row.eventKey.lastIndexOf(":")),
  };
}

/** The integration's breaker as answered; null when its actor does not run here. */
function breakerOf(status: TargetStatus | undefined): IntegrationView["circuit_breaker"] {
  if (status === undefined) return null;
  const { breaker } = status;
  return { state: breaker.state, failures: breaker.failures, seconds_until_half_open: breaker.secondsUntilHalfOpen };
}

/**
 * The /api/integrations routes.
 *
 * @example app.use(integrationRoutes({ store, secrets, deliveries, actors, audit, log, now: Date.now, urlPolicy }));
 */
export function integrationRoutes(deps: IntegrationRoutesDeps) {
  const { store, actors, audit, log, now } = deps;
  const detail = (summary: string) => ({ summary, tags: TAGS });
  const notFound = (id: string) => new HttpError(404, "not_found", `your organisation has no integration ${id}`);
  const taken = (name: string) =>
    new HttpError(409, "conflict", `your organisation has an integration named ${JSON.stringify(name)} already`);
  const openSecrets = (row: IntegrationRow) => {
    try {
      return deps.secrets.secretsOf(row);
    } catch {
      // Sealed with a key this server does not have: shown as not set rather than failing the list.
      return undefined;
    }
  };

  async function own(orgId: string, id: string): Promise<IntegrationRow> {
    const row = await store.get(orgId, id);
    if (row === undefined) throw notFound(id);
    return row;
  }

  return (
    new Elysia({ name: "aragora-integrations", prefix: "/api/integrations" })
      .use(accessControl)
      .use(
        deliveryRoutes({
          kind: "integration",
          permission: "integrations.manage",
          noun: "integration",
          ledger: deps.deliveries,
          actors,
          audit,
          now,
          own: (p, id) => own(p.orgId, id),
          view: deliveryView,
          schemas: {
            targetIdParams: IntegrationIdParams,
            deliveryIdParams: IntegrationDeliveryIdParams,
            deliveriesResponse: IntegrationDeliveriesResponse,
            deadLettersResponse: IntegrationDeadLettersResponse,
          },
        }),
      )
      .post(
        "",
        async ({ body, request, set, status }) => {
          const p = principalOf(request);
          checkFieldsOf(body.kind, body, true);
          refuseUrls(body, deps.urlPolicy);
          const parts = partsOf(body.kind, body, {}, {});
          let row: IntegrationRow | undefined;
          try {
            row = await store.save(
              { orgId: p.orgId, kind: body.kind, name: body.name, enabled: body.enabled ?? true, ...parts },
              p.userId ?? OPERATOR,
              new Date(now()),
            );
          } catch (err) {
            if (nameTaken(err)) throw taken(body.name);
            throw err;
          }
          if (row === undefined) throw new Error("the integration was not saved");
          actors.spawn(row.id);
          log.info({ org_id: p.orgId, integration_id: row.id, kind: row.kind }, "integration created");
          await audit.record({
            action: "integration.created",
            outcome: "success",
            ...auditedRequest(request),
            target: { type: "integration", id: row.id },
            detail: { kind: row.kind },
          });
          set.headers["cache-control"] = "no-store";
          return status(201, viewOf(row, parts.secrets));
        },
        {
          permission: "integrations.manage",
          body: validated(CreateIntegrationBody, "body"),
          parse: "json",
          detail: detail("Add a Slack, Discord, Teams or OAuth2 integration; its credentials are stored sealed"),
          response: responses({ 201: IntegrationView, 401: ErrorBody, 403: ErrorBody, 409: ErrorBody, 422: ErrorBody }),
        },
      )
      .get(
        "",
        async ({ request, set }) => {
          const p = principalOf(request);
          const rows = await store.list(p.orgId);
          const statuses = await Promise.all(rows.map((r) => actors.status(r.id)));
          set.headers["cache-control"] = "no-store";
          return {
            integrations: rows.map((r, i) => ({
              ...viewOf(r, openSecrets(r)),
              circuit_breaker: breakerOf(statuses[i]),
            })),
          };
        },
        {
          permission: "integrations.manage",
          detail: detail("The organisation's integrations (credentials only as set / last four characters)"),
          response: responses({ 200: IntegrationListResponse, 401: ErrorBody, 403: ErrorBody }),
        },
      )
      // The store's health and figures are those of the one backend every organisation shares (its
      // latency, its failures, every organisation's integrations counted): the platform's to read,
      // so `metrics.read` (the operator's, like /api/metrics) rather than an organisation's admin.
      .get("/health", () => store.health(), {
        permission: "metrics.read",
        detail: detail("The integration store's health (the runbook's health_check shape)"),
        response: responses({ 200: IntegrationStoreHealthResponse, 401: ErrorBody, 403: ErrorBody }),
      })
      .get("/metrics", () => store.metrics(), {
        permission: "metrics.read",
        detail: detail("The integration store's operation figures (the runbook's get_integration_metrics shape)"),
        response: responses({ 200: IntegrationStoreMetricsResponse, 401: ErrorBody, 403: ErrorBody }),
      })
      .get(
        "/:id",
        async ({ params, request, set }) => {
          const p = principalOf(request);
          const row = await own(p.orgId, params.id);
          set.headers["cache-control"] = "no-store";
          return { ...viewOf(row, openSecrets(row)), circuit_breaker: breakerOf(await actors.status(row.id)) };
        },
        {
          permission: "integrations.manage",
          params: validated(IntegrationIdParams, "params"),
          detail: detail("One integration (credentials only as set / last four characters)"),
          response: responses({ 200: IntegrationView, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 422: ErrorBody }),
        },
      )
      .patch(
        "/:id",
        async ({ params, body, request, set }) => {
          const p = principalOf(request);
          const before = await own(p.orgId, params.id);
          const kind = before.kind as IntegrationKind;
          checkFieldsOf(kind, body, false);
          refuseUrls(body, deps.urlPolicy);
          const stored = deps.secrets.secretsOf(before);
          const parts = partsOf(kind, body, JSON.parse(before.settings) as Record<string, unknown>, stored);
          let row: IntegrationRow | undefined;
          try {
            row = await store.save(
              {
                orgId: p.orgId,
                id: before.id,
                kind,
                name: body.name ?? before.name,
                enabled: body.enabled ?? before.enabled,
                ...parts,
              },
              p.userId ?? OPERATOR,
              new Date(now()),
            );
          } catch (err) {
            if (nameTaken(err)) throw taken(body.name ?? before.name);
            throw err;
          }
          if (row === undefined) throw notFound(params.id);
          actors.reload(row.id);
          await audit.record({
            action: "integration.updated",
            outcome: "success",
            ...auditedRequest(request),
            target: { type: "integration", id: row.id },
            detail: { fields: Object.keys(body).sort().join(","), enabled: row.enabled },
          });
          set.headers["cache-control"] = "no-store";
          return viewOf(row, parts.secrets);
        },
        {
          permission: "integrations.manage",
          params: validated(IntegrationIdParams, "params"),
          body: validated(UpdateIntegrationBody, "body"),
          parse: "json",
          detail: detail("Change an integration; credentials not given are kept, enabling clears why it was disabled"),
          response: responses({
            200: IntegrationView,
            401: ErrorBody,
            403: ErrorBody,
            404: ErrorBody,
            409: ErrorBody,
            422: ErrorBody,
          }),
        },
      )
      .delete(
        "/:id",
        async ({ params, request }) => {
          const p = principalOf(request);
          await own(p.orgId, params.id);
          // The actor first: nothing is attempted for deliveries about to be removed; then the
          // deliveries (a crash between leaves an integration without them, never deliveries
          // without their integration).
          await actors.remove(params.id);
          await deps.deliveries.removeTarget(params.id);
          if (!(await store.delete(p.orgId, params.id))) throw notFound(params.id);
          await audit.record({
            action: "integration.removed",
            outcome: "success",
            ...auditedRequest(request),
            target: { type: "integration", id: params.id },
          });
          return { id: params.id, removed: true as const };
        },
        {
          permission: "integrations.manage",
          params: validated(IntegrationIdParams, "params"),
          detail: detail("Remove an integration with its deliveries"),
          response: responses({
            200: RemovedIntegrationResponse,
            401: ErrorBody,
            403: ErrorBody,
            404: ErrorBody,
            422: ErrorBody,
          }),
        },
      )
  );
}
