/**
 * The HTTP application: Elysia with request ids, CORS, the body limit, the error mapper,
 * request metrics and logs, OpenAPI, the health/observability routes and `/ws`.
 * Actor folders add their own routes with `.use(...)` on the returned app.
 *
 * @example
 * const app = createHttpApp({ config, log, gateway, drain, version, startedAt: Date.now() });
 * app.listen({ port: 8080 });
 */
import { type AnyElysia, Elysia } from "elysia";
import { HealthResponse, MetricsText, WsHealthResponse, WsStatsResponse } from "../../schemas/health.ts";
import type { ActorSystem } from "../actor/index.ts";
import type { Config } from "../config.ts";
import type { Drain } from "../drain.ts";
import type { Logger } from "../log.ts";
import { metrics, registry } from "../metrics.ts";
import {
  STORE_RETRY_AFTER_S,
  type StoreHealth,
  StoreUnavailableError,
  storeFailureReason,
} from "../store/store-health.ts";
import { adminGuard, guardOf, type RouteGuard } from "./admin-guard.ts";
import { adminRoutes } from "./admin-routes.ts";
import { corsPolicy, VARY_ONLY } from "./cors.ts";
import { errorResponse, HttpError, PayloadTooLargeError, validationDetails } from "./errors.ts";
import { BodyRejected, readJsonBody } from "./json-body.ts";
import type { Authenticator } from "./principal.ts";
import { requestIdFrom } from "./request-id.ts";
import { bindState, RequestState, stateOf } from "./request-state.ts";
import { checkResponses, responses } from "./route-schemas.ts";
import { isStreamedResponse, observeStream, type StreamOutcome } from "./streamed-response.ts";
import { swagger } from "./swagger.ts";
import { urlProblem } from "./url-check.ts";
import type { WsGateway } from "./ws-gateway.ts";

export interface HttpAppDeps {
  config: Config;
  system: ActorSystem;
  log: Logger;
  gateway: WsGateway;
  drain: Drain;
  /** Whether the store can write (GET /api/health); absent in tests of the shell alone. */
  storeHealth?: StoreHealth;
  version: string;
  startedAt: number;
  /** Feature routes (app/features.ts), mounted after the shell's own. */
  routes?: AnyElysia[];
  /** Feature guards of path prefixes (the admin guard is the shell's own); see admin-guard.ts. */
  guards?: RouteGuard[];
  /** Who each request is (the access feature's); see principal.ts. */
  authenticator?: Authenticator;
}

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const PROBES = new Set(["/api/health", "/api/health/ws", "/api/metrics", "/metrics"]);

/** The debate a path is about (`/api/debates/:id` and below; the id as DebateIdParams spells it). */
const DEBATE_PATH = /^\/api\/debates\/(d-[0-9a-z-]{1,64})(?:\/|$)/;

/**
 * The debate id a request's log line carries (every log line about a debate carries its id):
 * the `:id` of the path, or for the 201 of POST /api/debates the id it created.
 *
 * @example debateIdOf("/api/debates/d-42/events", undefined) // "d-42"
 */
export function debateIdOf(path: string, created: unknown): string | undefined {
  if (typeof created === "object" && created !== null) {
    // The route returns status(201, body): Elysia hands mapResponse the wrapper, or the body itself.
    const body = (created as { response?: unknown }).response ?? created;
    const id = (body as { debate_id?: unknown } | null)?.debate_id;
    if (typeof id === "string") return id;
  }
  return path.startsWith("/api/debates/") ? DEBATE_PATH.exec(path)?.[1] : undefined;
}

/** The Prometheus exposition, for GET /api/metrics and GET /metrics. */
const metricsText = async ({ set }: { set: { headers: Record<string, unknown> } }) => {
  set.headers["content-type"] = registry.contentType;
  return registry.metrics();
};

export function createHttpApp(deps: HttpAppDeps) {
  const { config, log, gateway, drain, version, startedAt, system } = deps;
  checkResponses(config.validateResponses);
  const cors = corsPolicy(config.allowedOrigins);
  const guards = [adminGuard(config), ...(deps.guards ?? [])];
  const uptime = () => Math.floor((Date.now() - startedAt) / 1000);

  /**
   * Close the books on one request: release the drain slot, observe the histogram, log one line.
   * A streamed response (streamed-response.ts) closes them when its body ends, saying how.
   */
  const finish = (
    request: Request,
    status: number,
    route: string | undefined,
    path: string,
    created?: unknown,
    stream?: StreamOutcome,
  ) => {
    const state = stateOf(request);
    if (!state?.end()) return;
    const seconds = (performance.now() - state.start) / 1000;
    metrics.httpRequestDuration.series(request.method, route || "unmatched", status).observe(seconds);
    if (stream?.kind === "failed") metrics.httpStreamFailures.inc({ route: route || "unmatched" });
    // Probes (load balancers, Prometheus) would drown the log at INFO; they log at DEBUG unless they fail.
    const level =
      stream?.kind === "failed" ? "error" : status < 400 && route !== undefined && PROBES.has(route) ? "debug" : "info";
    if (!log.isLevelEnabled(level)) return;
    const line: Record<string, unknown> = {
      request_id: state.id,
      method: request.method,
      path,
      route: route || null,
      status,
      duration_ms: Math.round(seconds * 1e6) / 1e3,
    };
    const debateId = debateIdOf(path, created);
    if (debateId !== undefined) line.debate_id = debateId;
    if (stream) {
      // The status was sent before the body was made: the line says whether the body arrived whole.
      line.stream = stream.kind;
      line.bytes = stream.bytes;
      if (stream.kind === "failed") {
        line.err = stream.error;
        log.error(line, "request failed mid-stream: the client got a cut-off body");
        return;
      }
    }
    log[level](line, "request");
  };
  /** onRequest short-circuits skip mapResponse, so they finish the request themselves. */
  const early = (request: Request, response: Response) => {
    finish(request, response.status, undefined, new URL(request.url).pathname);
    return response;
  };

  /**
   * Open the books on one request: its id, its state (start time, drain slot) and the headers every
   * response carries (X-Request-ID, Vary: Origin, CORS). Then refuse what the shell refuses before
   * routing (CORS preflights are answered here too). Returns the response headers, or the early
   * Response that ends the request. Shared by the Elysia hook and the probe lane.
   */
  const begin = (request: Request): Record<string, string> | Response => {
    // Read request.headers once: under Bun.serve the first access of the getter materialises
    // every header of the request, so keep the one object it gives.
    const headers = request.headers;
    const id = requestIdFrom(headers);
    bindState(request, new RequestState(id, performance.now(), log, drain));
    const origin = headers.get("origin");
    const corsHeaders = cors.headersFor(origin);
    const method = request.method;

    if (method === "OPTIONS" && headers.has("access-control-request-method")) {
      const preflight = cors.preflightHeaders(origin);
      if (!preflight) {
        const message = `origin ${origin ?? "(none)"} is not allowed`;
        return early(request, errorResponse(403, "cors_denied", message, id, undefined, corsHeaders));
      }
      return early(request, new Response(null, { status: 204, headers: { ...preflight, "x-request-id": id } }));
    }
    // Authentication comes first: a protected route tells a caller without the token nothing else,
    // not even that its body is too large or malformed.
    const guard = guardOf(guards, request.url);
    if (guard) {
      const refused = guard.check(request);
      if (refused) {
        const { status, code, message, details, headers: own } = refused;
        return early(request, errorResponse(status, code, message, id, details, { ...corsHeaders, ...own }));
      }
    }
    const badUrl = urlProblem(request.url);
    if (badUrl) return early(request, errorResponse(400, "malformed_url", badUrl, id, undefined, corsHeaders));
    const length = Number(headers.get("content-length") ?? "0");
    if (length > config.maxBodyBytes) {
      const message = `request body is ${length} bytes; the limit is ${config.maxBodyBytes} (ARAGORA_MAX_BODY_BYTES)`;
      return early(request, errorResponse(413, "payload_too_large", message, id, undefined, corsHeaders));
    }
    if (drain.draining && MUTATING.has(method)) {
      const message = "the server is shutting down; retry on another node";
      return early(
        request,
        errorResponse(503, "draining", message, id, undefined, { ...corsHeaders, "retry-after": "5" }),
      );
    }
    // A fresh plain object of stable shape: Response.json converts it faster than Elysia's
    // null-prototype map filled key by key.
    return corsHeaders === VARY_ONLY ? { vary: "Origin", "x-request-id": id } : { ...corsHeaders, "x-request-id": id };
  };

  /** GET /api/health's answer, for the Elysia route and the probe lane alike. */
  const storeHealth = deps.storeHealth;
  const health = () => {
    if (drain.draining) return { status: 503, body: { status: "draining" as const, version, uptime: uptime() } };
    if (storeHealth && !storeHealth.writable) {
      return {
        status: 503,
        body: { status: "unhealthy" as const, version, uptime: uptime(), store: storeHealth.snapshot() },
      };
    }
    return { status: 200, body: { status: "healthy" as const, version, uptime: uptime() } };
  };

  /**
   * The probe lane: GET /api/health answered by Bun's own router (Bun.serve `routes`), under the
   * same contract as every other route (begin's gate and headers, histogram, log line, drain slot)
   * but without Elysia's per-request composition (context object, hook chain, async handler,
   * response re-validation of a body built right here): ~2.3 us of server CPU per request (of ~15)
   * on the URL load balancers hit hardest (bench/http.ts). The Elysia route below stays:
   * it documents the endpoint in OpenAPI and answers app.handle() and HEAD.
   */
  const healthLane = (request: Request): Response => {
    const opened = begin(request);
    if (opened instanceof Response) return opened;
    const { status, body } = health();
    // Setting the headers on the made Response is ~0.2 us cheaper in Bun than passing them in init.
    const response = status === 200 ? Response.json(body) : Response.json(body, { status });
    for (const name in opened) response.headers.set(name, opened[name] as string);
    finish(request, status, "/api/health", "/api/health");
    return response;
  };

  // The shell's own route groups, each a plugin with its prefix (features add theirs the same way).
  const healthRoutes = new Elysia({ name: "aragora-health", prefix: "/api/health" })
    .get(
      "",
      ({ set }) => {
        const { status, body } = health();
        set.status = status;
        return body;
      },
      {
        detail: { summary: "Process health", tags: ["health"] },
        response: responses({ 200: HealthResponse, 503: HealthResponse }),
      },
    )
    .get(
      "/ws",
      ({ set }) => {
        if (!gateway.available) {
          set.status = 503;
          return { status: "unavailable" as const, clients: 0, message: "WebSocket listener is not up" };
        }
        return { status: "healthy" as const, clients: gateway.clientCount };
      },
      {
        detail: { summary: "WebSocket listener health (public, no auth)", tags: ["health"] },
        response: responses({ 200: WsHealthResponse, 503: WsHealthResponse }),
      },
    );
  const observabilityRoutes = new Elysia({ name: "aragora-observability", prefix: "/api" })
    .get("/ws/stats", () => gateway.stats(), {
      detail: { summary: "WebSocket connections, message counts and subscribers per topic", tags: ["observability"] },
      response: responses({ 200: WsStatsResponse }),
    })
    .get("/metrics", metricsText, {
      detail: { summary: "Prometheus metrics", tags: ["observability"] },
      response: responses({ 200: MetricsText }),
    });
  // The runbook also sends operators (and Prometheus' default metrics_path) to /metrics.
  const metricsAlias = new Elysia({ name: "aragora-metrics", prefix: "/metrics" }).get("", metricsText, {
    detail: { summary: "Prometheus metrics (the same as /api/metrics)", tags: ["observability"] },
    response: responses({ 200: MetricsText }),
  });

  const app = new Elysia({
    // Bun's own limit is only a backstop: the JSON 413 comes from onRequest (Content-Length)
    // or from the body gate below (chunked bodies).
    // reusePort off: a second server on a taken port must fail, not silently share the traffic.
    serve: {
      maxRequestBodySize: config.maxBodyBytes * 2 + 65_536,
      reusePort: false,
      // Merged over Elysia's own route table, so this GET handler replaces the compiled one.
      routes: { "/api/health": { GET: healthLane } },
    },
    websocket: { maxPayloadLength: config.wsMaxMessageSize, idleTimeout: 120 },
  })
    .onRequest(({ request, set }) => {
      const opened = begin(request);
      if (opened instanceof Response) return opened;
      set.headers = opened;
    })
    // The one body gate (json-body.ts): every route that reads a body gets it from here, checked
    // before parsing; routes' own `parse: "json"` only documents the media type in OpenAPI, since
    // Elysia skips the named parser once a parse hook returned a value.
    .onParse(({ request }) => readJsonBody(request, config.maxBodyBytes))
    .onError(({ code, error, request, path, set }) => {
      const state = stateOf(request);
      const id = state?.id ?? requestIdFrom(request.headers);
      const extra = cors.headersFor(request.headers.get("origin"));
      switch (code) {
        case "VALIDATION": {
          const v = error as unknown as { all?: readonly object[]; type?: string };
          const details = validationDetails((v.all ?? []) as Parameters<typeof validationDetails>[0], v.type ?? "body");
          const message = details.map((d) => `${d.field}: ${d.rule}`).join("; ");
          set.status = 422;
          return errorResponse(422, "validation_failed", message, id, details, extra);
        }
        case "PARSE": {
          // Elysia wraps whatever a parse hook threw in a ParseError; the gate's reason is its cause.
          const cause = (error as Error).cause;
          if (cause instanceof BodyRejected) {
            set.status = cause.status;
            return errorResponse(cause.status, cause.code, cause.message, id, cause.details, extra);
          }
          if (cause instanceof PayloadTooLargeError) {
            set.status = 413;
            return errorResponse(413, "payload_too_large", cause.message, id, undefined, extra);
          }
          set.status = 400;
          return errorResponse(
            400,
            "malformed_body",
            "the request body could not be parsed (malformed JSON?)",
            id,
            undefined,
            extra,
          );
        }
        case "NOT_FOUND":
          set.status = 404;
          finish(request, 404, undefined, path);
          return errorResponse(404, "not_found", `no route ${request.method} ${path}`, id, undefined, extra);
        case "INVALID_COOKIE_SIGNATURE":
          set.status = 400;
          return errorResponse(400, "bad_cookie", "a signed cookie failed verification", id, undefined, extra);
        default: {
          if (error instanceof HttpError) {
            set.status = error.status;
            return errorResponse(error.status, error.code, error.message, id, error.details, {
              ...extra,
              ...error.headers,
            });
          }
          if (error instanceof PayloadTooLargeError) {
            set.status = 413;
            return errorResponse(413, "payload_too_large", error.message, id, undefined, extra);
          }
          // The store cannot write (or read) now: a 503 to retry, not a 500 to report.
          const storeReason = storeFailureReason(error);
          if (storeReason !== null) {
            const part = error instanceof StoreUnavailableError ? error.part : "core";
            if (!(error instanceof StoreUnavailableError)) storeHealth?.failed(part, error);
            (state?.log ?? log).warn(
              { err: error, path, method: request.method, reason: storeReason, part },
              "request refused: the store cannot write",
            );
            set.status = 503;
            return errorResponse(
              503,
              "store_unavailable",
              `the store cannot serve this request now (${storeReason}); retry later`,
              id,
              undefined,
              { ...extra, "retry-after": String(STORE_RETRY_AFTER_S) },
            );
          }
          const status =
            typeof (error as { status?: unknown }).status === "number" ? (error as { status: number }).status : 500;
          if (status >= 400 && status < 500) {
            set.status = status;
            return errorResponse(
              status,
              "bad_request",
              (error as Error).message ?? "bad request",
              id,
              undefined,
              extra,
            );
          }
          (state?.log ?? log).error(
            { err: error, path, method: request.method, debate_id: debateIdOf(path, undefined) },
            "request failed",
          );
          set.status = 500;
          return errorResponse(
            500,
            "internal_error",
            "the server failed to handle this request; quote the request_id when reporting it",
            id,
            undefined,
            extra,
          );
        }
      }
    })
    // mapResponse rather than onAfterResponse: it runs synchronously before the response is sent,
    // where onAfterResponse costs a setImmediate per request (a third of the shell's overhead).
    // Router misses skip it; the NOT_FOUND branch of onError finishes those.
    .mapResponse(({ request, route, set, path, responseValue }) => {
      if (isStreamedResponse(responseValue) && responseValue.body) {
        const { status, headers } = responseValue;
        const body = observeStream(responseValue.body, (outcome) =>
          finish(request, status, route, path, undefined, outcome),
        );
        return new Response(body as ReadableStream<Uint8Array>, { status, headers });
      }
      const status =
        responseValue instanceof Response
          ? responseValue.status
          : typeof set.status === "number"
            ? set.status
            : Number(set.status) || 200;
      // The 201 of POST /api/debates names the new debate: its request line carries that id.
      const created = status === 201 && route === "/api/debates" ? responseValue : undefined;
      finish(request, status, route, path, created);
    })
    .use(swagger(version))
    .use(healthRoutes)
    .use(observabilityRoutes)
    .use(metricsAlias)
    .use(adminRoutes({ log, system }))
    .ws("/ws", { ...gateway.routeHandlers(), detail: { hide: true } });
  for (const routes of deps.routes ?? []) app.use(routes);
  return app;
}

export type HttpApp = ReturnType<typeof createHttpApp>;
