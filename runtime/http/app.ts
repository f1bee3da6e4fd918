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
import type { ErrorBody } from "../../schemas/errors.ts";
import { HealthResponse, MetricsText, WsHealthResponse, WsStatsResponse } from "../../schemas/health.ts";
import type { ActorSystem } from "../actor/index.ts";
import { type AuditRecorder, auditToLog } from "../audit.ts";
import type { Config } from "../config.ts";
import type { Drain } from "../drain.ts";
import { type Logger, type RequestLine, requestLineWriter } from "../log.ts";
import { metrics, registry } from "../metrics.ts";
import {
  STORE_RETRY_AFTER_S,
  type StoreHealth,
  StoreUnavailableError,
  storeFailureReason,
} from "../store/store-health.ts";
import { adminRoutes } from "./admin-routes.ts";
import { carriesCredentials } from "./authenticators.ts";
import { clientAddressResolver } from "./client-ip.ts";
import { corsPolicy, VARY_ONLY } from "./cors.ts";
import { encryptionFailureAnswer } from "./encryption-errors.ts";
import {
  ERROR_CONTENT_TYPE,
  type ErrorFields,
  errorBody,
  errorResponse,
  HttpError,
  PayloadTooLargeError,
  UnrecognisedCredential,
  validationDetails,
} from "./errors.ts";
import { BodyRejected, readJsonBody } from "./json-body.ts";
import { accessControl, BEARER_CHALLENGE } from "./permission.ts";
import type { Authenticator, Principal } from "./principal.ts";
import { isPublicRoute, pathOf } from "./public-routes.ts";
import type { RateLimitGuard, RateLimitVerdict } from "./rate-limit.ts";
import { RecentErrors } from "./recent-errors.ts";
import { recentErrorsRoutes } from "./recent-errors-routes.ts";
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
  /**
   * Finds who is calling (app/ composes the operator's and the features'). Without one, no caller
   * can prove an identity: only the public routes answer.
   */
  authenticator?: Authenticator;
  /** Where the shell's admin actions (the log level) are recorded; default: log lines. */
  audit?: AuditRecorder;
  /** The ring of recent server errors GET /api/system/errors shows; default: a new one of 200. */
  recentErrors?: RecentErrors;
  /** The rate limits, checked once a request is authenticated (rate-limit.ts); absent: none. */
  rateLimits?: RateLimitGuard;
}

/** What opening a request gives: the headers of its response, or the Response that ends it early. */
type Opened = Record<string, string> | Response;

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
  const authenticator = deps.authenticator;
  const rateLimits = deps.rateLimits;
  const resolveAddress = clientAddressResolver(config.trustedProxies);
  /** The client's address (client-ip.ts), asked for only by what needs it: the per-address limits, sign-in. */
  const addressOf = (request: Request): string =>
    resolveAddress(app.server?.requestIP(request)?.address, request.headers.get("x-forwarded-for"));
  const writeRequestLine = requestLineWriter(log);
  const uptime = () => Math.floor((Date.now() - startedAt) / 1000);
  const recentErrors = deps.recentErrors ?? new RecentErrors();
  const audit = deps.audit ?? auditToLog(log);

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
    const line: RequestLine = {
      request_id: state.id,
      method: request.method,
      path,
      route: route || null,
      status,
      duration_ms: Math.round(seconds * 1e6) / 1e3,
    };
    const debateId = debateIdOf(path, created);
    if (debateId !== undefined) line.debate_id = debateId;
    // A request made while impersonating says who really made it.
    const actor = state.principal?.actor;
    if (actor !== undefined) {
      line.user_id = state.principal?.userId;
      line.impersonator_id = actor.userId;
    }
    if (stream) {
      // The status was sent before the body was made: the line says whether the body arrived whole.
      line.stream = stream.kind;
      line.bytes = stream.bytes;
      if (stream.kind === "failed") {
        log.error({ ...line, err: stream.error }, "request failed mid-stream: the client got a cut-off body");
        return;
      }
    }
    writeRequestLine(level === "debug" ? "debug" : "info", line);
  };
  /** Answers that end a request in the wrapper skip mapResponse, so they finish the request themselves. */
  const early = (request: Request, response: Response) => {
    finish(request, response.status, undefined, new URL(request.url).pathname);
    return response;
  };

  /**
   * The refusal of a request whose authentication found no principal (undefined: no credentials
   * anyone recognised) or refused it (an HttpError); undefined once the principal is on its state.
   */
  const admit = (
    request: Request,
    found: Principal | HttpError | undefined,
    id: string,
    corsHeaders: Record<string, string>,
  ): Response | Promise<Response> | undefined => {
    if (found instanceof HttpError) {
      metrics.authFailures.inc({ reason: found.code });
      const { status, code, message, details, headers } = found;
      const refusal = () =>
        early(request, errorResponse(status, code, message, id, details, { ...corsHeaders, ...headers }));
      return found instanceof UnrecognisedCredential ? chargedRefusal(request, refusal, id, corsHeaders) : refusal();
    }
    if (found === undefined) {
      const presented = carriesCredentials(request);
      metrics.authFailures.inc({ reason: presented ? "invalid" : "missing" });
      const message = "sign in: send Authorization: Bearer <access token or API key>";
      const refusal = () =>
        early(
          request,
          errorResponse(401, "unauthorized", message, id, undefined, { ...corsHeaders, ...BEARER_CHALLENGE }),
        );
      return presented ? chargedRefusal(request, refusal, id, corsHeaders) : refusal();
    }
    (stateOf(request) as RequestState).principal = found;
    return undefined;
  };

  /**
   * A refusal of credentials, charged to the client address's auth bucket (rate-limit.ts): the 401,
   * or the 429 once the address has guessed too often. A store that cannot be asked lets the 401 be.
   */
  const chargedRefusal = (
    request: Request,
    refusal: () => Response,
    id: string,
    corsHeaders: Record<string, string>,
  ): Response | Promise<Response> => {
    if (rateLimits === undefined) return refusal();
    const answer = (verdict: RateLimitVerdict): Response => {
      if (!(verdict instanceof HttpError)) return refusal();
      const { status, code, message, details, headers } = verdict;
      return early(request, errorResponse(status, code, message, id, details, { ...corsHeaders, ...headers }));
    };
    const verdict = rateLimits.refusedCredentials(request);
    return verdict instanceof Promise ? verdict.then(answer, refusal) : answer(verdict);
  };

  /** An authenticator that threw (a store it reads cannot answer, a bug): 503 or 500, never a pass. */
  const authenticatorFailed = (request: Request, error: unknown, id: string, corsHeaders: Record<string, string>) => {
    const reason = storeFailureReason(error);
    const route = pathOf(request.url);
    if (reason !== null) {
      recentErrors.add({ requestId: id, method: request.method, route, status: 503, code: "store_unavailable", error });
      (stateOf(request)?.log ?? log).warn({ err: error, reason }, "authentication refused: the store cannot answer");
      const message = `the server cannot check credentials now (${reason}); retry later`;
      const headers = { ...corsHeaders, "retry-after": String(STORE_RETRY_AFTER_S) };
      return early(request, errorResponse(503, "store_unavailable", message, id, undefined, headers));
    }
    (stateOf(request)?.log ?? log).error({ err: error }, "authentication failed");
    recentErrors.add({ requestId: id, method: request.method, route, status: 500, code: "internal_error", error });
    const message = "the server failed to handle this request; quote the request_id when reporting it";
    return early(request, errorResponse(500, "internal_error", message, id, undefined, corsHeaders));
  };

  /**
   * Open the books on one request: its id, its state (start time, drain slot) and the headers every
   * response carries (X-Request-ID, Vary: Origin, CORS). Then refuse what the shell refuses before
   * routing: CORS preflights are answered, then every route but the public ones needs a principal
   * from the authenticator, then the URL, the declared size and the drain are checked. Returns the
   * response headers (also kept on the request's state), or the early Response that ends the
   * request; a Promise of either only when the authenticator answers asynchronously. Shared by the
   * wrapper of every Elysia route and the probe lane.
   */
  const begin = (request: Request): Opened | Promise<Opened> => {
    // Read request.headers once: under Bun.serve the first access of the getter materialises
    // every header of the request, so keep the one object it gives.
    const headers = request.headers;
    const id = requestIdFrom(headers);
    const state = new RequestState(id, performance.now(), log, drain, addressOf);
    bindState(request, state);
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
    // Authentication comes first: a route that needs a principal tells a caller without one
    // nothing else, not even that its body is too large or malformed, or that it does not exist.
    // Under Bun.serve each read of request.url builds the string anew: read it once.
    const url = request.url;
    const path = pathOf(url);
    if (!isPublicRoute(method, path)) {
      let found: ReturnType<Authenticator["authenticate"]>;
      try {
        found = authenticator?.authenticate(request, headers);
      } catch (error) {
        return authenticatorFailed(request, error, id, corsHeaders);
      }
      if (found instanceof Promise) {
        return found.then(
          (resolved) =>
            admit(request, resolved, id, corsHeaders) ?? admitted(request, state, headers, corsHeaders, url, path),
          (error: unknown) => authenticatorFailed(request, error, id, corsHeaders),
        );
      }
      const refused = admit(request, found, id, corsHeaders);
      if (refused) return refused;
    }
    return admitted(request, state, headers, corsHeaders, url, path);
  };

  /** The checks after authentication: the URL, the declared size, the drain, the rate limits. */
  const admitted = (
    request: Request,
    state: RequestState,
    headers: Headers,
    corsHeaders: Record<string, string>,
    url: string,
    path: string,
  ): Opened | Promise<Opened> => {
    const id = state.id;
    const badUrl = urlProblem(url);
    if (badUrl) return early(request, errorResponse(400, "malformed_url", badUrl, id, undefined, corsHeaders));
    const length = Number(headers.get("content-length") ?? "0");
    if (length > config.maxBodyBytes) {
      const message = `request body is ${length} bytes; the limit is ${config.maxBodyBytes} (ARAGORA_MAX_BODY_BYTES)`;
      return early(request, errorResponse(413, "payload_too_large", message, id, undefined, corsHeaders));
    }
    if (drain.draining && MUTATING.has(request.method)) {
      const message = "the server is shutting down; retry on another node";
      return early(
        request,
        errorResponse(503, "draining", message, id, undefined, { ...corsHeaders, "retry-after": "5" }),
      );
    }
    // A fresh plain object of stable shape: Response.json converts it faster than Elysia's
    // null-prototype map filled key by key.
    const opened: Record<string, string> =
      corsHeaders === VARY_ONLY ? { vary: "Origin", "x-request-id": id } : { ...corsHeaders, "x-request-id": id };
    state.responseHeaders = opened;
    if (rateLimits === undefined) return opened;
    const verdict = rateLimits.check(request, request.method, path, state.principal);
    if (verdict === undefined) return opened;
    if (verdict instanceof Promise) {
      return verdict.then(
        (v) => limited(request, opened, v, corsHeaders),
        (error: unknown) => {
          // The limit could not be checked: the request goes on rather than failing for it.
          state.log.error({ err: error }, "rate limit check failed; request let through");
          return opened;
        },
      );
    }
    return limited(request, opened, verdict, corsHeaders);
  };

  /** A rate limit's verdict applied: its headers on the answer, or the 429 that ends the request. */
  const limited = (
    request: Request,
    opened: Record<string, string>,
    verdict: RateLimitVerdict,
    corsHeaders: Record<string, string>,
  ): Opened => {
    if (verdict === undefined) return opened;
    if (verdict instanceof HttpError) {
      const { status, code, message, details, headers } = verdict;
      return early(
        request,
        errorResponse(status, code, message, opened["x-request-id"] as string, details, { ...corsHeaders, ...headers }),
      );
    }
    Object.assign(opened, verdict);
    return opened;
  };

  /**
   * Every Elysia route runs inside this wrapper (Elysia's `wrap`): the request is opened before
   * Elysia's own hooks, so an authenticator that answers asynchronously (a token not yet cached)
   * can be awaited there while every other request stays synchronous. Made once per handler Elysia
   * compiles, and kept on it.
   */
  const WRAPPED: unique symbol = Symbol("aragora.opened");
  type Handler = ((request: Request) => unknown) & { [WRAPPED]?: (request: Request) => unknown };
  const opening = (handler: Handler) => {
    handler[WRAPPED] ??= (request: Request) => {
      const opened = begin(request);
      if (opened instanceof Response) return opened;
      if (opened instanceof Promise) {
        return opened.then((o) => (o instanceof Response ? o : handler(request)));
      }
      return handler(request);
    };
    return handler[WRAPPED];
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
    // A public route: begin never waits on an authenticator here.
    const opened = begin(request) as Opened;
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
    .use(accessControl)
    .get(
      "",
      ({ set }) => {
        const { status, body } = health();
        set.status = status;
        return body;
      },
      {
        permission: "public",
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
        permission: "public",
        detail: { summary: "WebSocket listener health (public, no auth)", tags: ["health"] },
        response: responses({ 200: WsHealthResponse, 503: WsHealthResponse }),
      },
    );
  const observabilityRoutes = new Elysia({ name: "aragora-observability", prefix: "/api" })
    .use(accessControl)
    .get("/ws/stats", () => gateway.stats(), {
      permission: "system.read",
      detail: { summary: "WebSocket connections, message counts and subscribers per topic", tags: ["observability"] },
      response: responses({ 200: WsStatsResponse }),
    })
    .get("/metrics", metricsText, {
      permission: "metrics.read",
      detail: { summary: "Prometheus metrics", tags: ["observability"] },
      response: responses({ 200: MetricsText }),
    });
  // The runbook also sends operators (and Prometheus' default metrics_path) to /metrics.
  const metricsAlias = new Elysia({ name: "aragora-metrics", prefix: "/metrics" })
    .use(accessControl)
    .get("", metricsText, {
      permission: "metrics.read",
      detail: { summary: "Prometheus metrics (the same as /api/metrics)", tags: ["observability"] },
      response: responses({ 200: MetricsText }),
    });

  const app = new Elysia({
    // Bun's own limit is only a backstop: the JSON 413 comes from the wrapper (Content-Length)
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
    // The wrapper opens the request; its response headers join what the route set in mapResponse
    // below. No onRequest hook: one makes Elysia read the URL again and run it in a try/catch on
    // every request.
    .wrap(opening as unknown as Parameters<AnyElysia["wrap"]>[0])
    // The one body gate (json-body.ts): every route that reads a body gets it from here, checked
    // before parsing; routes' own `parse: "json"` only documents the media type in OpenAPI, since
    // Elysia skips the named parser once a parse hook returned a value.
    .onParse(({ request }) => readJsonBody(request, config.maxBodyBytes))
    .onError(({ code, error, request, path, set, route }) => {
      const state = stateOf(request);
      const id = state?.id ?? requestIdFrom(request.headers);
      /** A 5xx answer goes to the recent errors (GET /api/system/errors) as well as the log. */
      const serverError = (status: number, errorCode: string) =>
        recentErrors.add({
          requestId: id,
          method: request.method,
          route: route || path,
          status,
          code: errorCode,
          error,
        });
      /**
       * The error answer: its body, with its status and headers on `set`, so Elysia builds the one
       * Response (a Response returned here would be copied again to merge `set`'s headers in). The
       * headers are the request's own (X-Request-ID, CORS, rate limits), what the route set, and the
       * error's, each over the one before. A router miss is answered through Elysia's general error
       * path, which would drop a returned body: that one gets its Response here.
       */
      const answer = (
        status: number,
        errorCode: string,
        message: string,
        details?: ErrorBody["details"],
        headers?: Record<string, string>,
        fields?: ErrorFields,
      ) => {
        const all: Record<string, string> = {
          ...(state?.responseHeaders ?? cors.headersFor(request.headers.get("origin"))),
          ...(set.headers as Record<string, string>),
          "content-type": ERROR_CONTENT_TYPE,
          "x-request-id": id,
          ...headers,
        };
        set.status = status;
        const body = errorBody(errorCode, message, id, details, fields);
        if (!route) return new Response(JSON.stringify(body), { status, headers: all });
        set.headers = all;
        if (state !== undefined) state.responseHeaders = all;
        return body;
      };
      switch (code) {
        case "VALIDATION": {
          const v = error as unknown as { all?: readonly object[]; type?: string };
          const details = validationDetails((v.all ?? []) as Parameters<typeof validationDetails>[0], v.type ?? "body");
          const message = details.map((d) => `${d.field}: ${d.rule}`).join("; ");
          return answer(422, "validation_failed", message, details);
        }
        case "PARSE": {
          // Elysia wraps whatever a parse hook threw in a ParseError; the gate's reason is its cause.
          const cause = (error as Error).cause;
          if (cause instanceof BodyRejected) return answer(cause.status, cause.code, cause.message, cause.details);
          if (cause instanceof PayloadTooLargeError) return answer(413, "payload_too_large", cause.message);
          return answer(400, "malformed_body", "the request body could not be parsed (malformed JSON?)");
        }
        case "NOT_FOUND":
          finish(request, 404, undefined, path);
          return answer(404, "not_found", `no route ${request.method} ${path}`);
        case "INVALID_COOKIE_SIGNATURE":
          return answer(400, "bad_cookie", "a signed cookie failed verification");
        default: {
          if (error instanceof HttpError) {
            if (error.status >= 500) serverError(error.status, error.code);
            return answer(error.status, error.code, error.message, error.details, error.headers, error.fields);
          }
          if (error instanceof PayloadTooLargeError) return answer(413, "payload_too_large", error.message);
          // A stored secret that cannot be opened: the key id it needs (503), or tampered (500).
          const sealed = encryptionFailureAnswer(error);
          if (sealed !== undefined) {
            (state?.log ?? log).error({ ...sealed.logFields, path, method: request.method }, sealed.logMessage);
            serverError(sealed.status, sealed.code);
            return answer(sealed.status, sealed.code, sealed.message, undefined, undefined, sealed.fields);
          }
          // The store cannot write (or read) now: a 503 to retry, not a 500 to report.
          const storeReason = storeFailureReason(error);
          if (storeReason !== null) {
            const part = error instanceof StoreUnavailableError ? error.part : "core";
            if (!(error instanceof StoreUnavailableError)) storeHealth?.failed(part, error);
            serverError(503, "store_unavailable");
            (state?.log ?? log).warn(
              { err: error, path, method: request.method, reason: storeReason, part },
              "request refused: the store cannot write",
            );
            return answer(
              503,
              "store_unavailable",
              `the store cannot serve this request now (${storeReason}); retry later`,
              undefined,
              { "retry-after": String(STORE_RETRY_AFTER_S) },
            );
          }
          const status =
            typeof (error as { status?: unknown }).status === "number" ? (error as { status: number }).status : 500;
          if (status >= 400 && status < 500) {
            return answer(status, "bad_request", (error as Error).message ?? "bad request");
          }
          (state?.log ?? log).error(
            { err: error, path, method: request.method, debate_id: debateIdOf(path, undefined) },
            "request failed",
          );
          serverError(500, "internal_error");
          return answer(
            500,
            "internal_error",
            "the server failed to handle this request; quote the request_id when reporting it",
          );
        }
      }
    })
    // mapResponse rather than onAfterResponse: it runs synchronously before the response is sent,
    // where onAfterResponse costs a setImmediate per request (a third of the shell's overhead).
    // Router misses skip it; the NOT_FOUND branch of onError finishes those.
    .mapResponse(({ request, route, set, path, responseValue }) => {
      const opened = stateOf(request)?.responseHeaders;
      if (opened !== undefined && set.headers !== opened) {
        // What the route set (a content type, cookies, cache-control) wins over the request's own.
        const own = set.headers as Record<string, string>;
        for (const name in own) opened[name] = own[name] as string;
        set.headers = opened;
      }
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
    .use(adminRoutes({ log, system, audit }))
    .use(recentErrorsRoutes(recentErrors))
    .ws("/ws", {
      ...gateway.routeHandlers(),
      // The upgrade's answer carries the request's headers (X-Request-ID, CORS) as every answer does.
      upgrade: ({ request, set }: { request: Request; set: { headers: Record<string, unknown> } }) => {
        Object.assign(set.headers, stateOf(request)?.responseHeaders);
      },
      detail: { hide: true },
    });
  for (const routes of deps.routes ?? []) app.use(routes);
  return app;
}

export type HttpApp = ReturnType<typeof createHttpApp>;

/**
 * The dedicated WebSocket listener (`ARAGORA_WS_PORT`): `/ws` only, on the same gateway as the
 * API's. An upgrade proves who it is through the same authenticator as HTTP (a bearer token or
 * key, or a `?ticket=`); without a principal it is refused with the JSON 401 before any socket opens.
 *
 * @example
 * const ws = createWsApp({ config, gateway, authenticator });
 * ws.listen({ hostname: config.host, port: config.wsPort });
 */
export function createWsApp(deps: Pick<HttpAppDeps, "config" | "gateway" | "authenticator" | "log">) {
  const { config, gateway, log } = deps;
  const authenticator = deps.authenticator ?? { authenticate: () => undefined };
  return new Elysia({
    serve: { reusePort: false },
    websocket: { maxPayloadLength: config.wsMaxMessageSize, idleTimeout: 120 },
  })
    .onError(({ code, error, request }) => {
      const id = requestIdFrom(request.headers);
      // Refusals of the upgrade (counted in aragora_auth_failures_total by the gateway).
      if (error instanceof HttpError) {
        return errorResponse(error.status, error.code, error.message, id, error.details, error.headers);
      }
      if (code === "NOT_FOUND") return errorResponse(404, "not_found", "this listener serves /ws only", id);
      const reason = storeFailureReason(error);
      if (reason !== null) {
        const message = `the server cannot check credentials now (${reason}); retry later`;
        return errorResponse(503, "store_unavailable", message, id, undefined, {
          "retry-after": String(STORE_RETRY_AFTER_S),
        });
      }
      log.error({ err: error, request_id: id }, "websocket upgrade failed");
      return errorResponse(500, "internal_error", "the server failed to handle this request", id);
    })
    .ws("/ws", gateway.routeHandlers({ authenticator }));
}
