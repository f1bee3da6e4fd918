/**
 * Every route declares its permission, and the declaration is what guards it:
 *
 * - the served OpenAPI document: every operation names `x-aragora-permission` (a known permission
 *   or "public"); the public ones are exactly those of PUBLIC_ROUTES, the others require the
 *   bearer, API key or cookie scheme, and answer 401 to a caller without credentials;
 * - the mounted routes, hidden ones included: each declares a permission (the shell's app in process);
 * - the check itself (the accessControl macro on a small app with a fake authenticator): 401 without
 *   a principal, 403 `forbidden` naming the permission for roles that do not grant it (a viewer
 *   starting a debate), before the body is validated, counted in the RBAC metrics;
 * - WebSocket message types guarded the same way by the gateway.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type } from "arktype";
import { Elysia } from "elysia";
import { ActorSystem } from "../../runtime/actor/index.ts";
import { loadConfig } from "../../runtime/config.ts";
import { Drain } from "../../runtime/drain.ts";
import { createHttpApp } from "../../runtime/http/app.ts";
import { HttpError } from "../../runtime/http/errors.ts";
import { accessControl } from "../../runtime/http/permission.ts";
import type { Authenticator, Principal } from "../../runtime/http/principal.ts";
import { CONSOLE_ROUTES, isPublicRoute, PUBLIC_ROUTES } from "../../runtime/http/public-routes.ts";
import { validated } from "../../runtime/http/route-schemas.ts";
import { type Socket, WsGateway } from "../../runtime/http/ws-gateway.ts";
import { createLogger } from "../../runtime/log.ts";
import { registry } from "../../runtime/metrics.ts";
import { PERMISSIONS, type Role } from "../../runtime/security/rbac.ts";
import { startTestServer, type TestServer } from "../support/server.ts";

interface Operation {
  method: string;
  /** OpenAPI's spelling, `/api/debates/{id}`. */
  path: string;
  permission: unknown;
  security: unknown;
  parameters: { name: string; in: string }[];
}

/** The route as PUBLIC_ROUTES spells it: `{id}` becomes `:id`. */
const routeOf = (op: Pick<Operation, "method" | "path">) => `${op.method} ${op.path.replace(/\{([^}]+)\}/g, ":$1")}`;
const SCHEMES = [{ bearer: [] }, { apiKey: [] }, { cookie: [] }];

describe("the served OpenAPI document", () => {
  let server: TestServer;
  let operations: Operation[];
  let doc: {
    paths: Record<string, Record<string, Record<string, unknown>>>;
    components: { securitySchemes: Record<string, Record<string, unknown>> };
  };

  beforeAll(async () => {
    server = await startTestServer();
    // Fetched without credentials: the document itself is public.
    const res = await fetch(`${server.api}/swagger/json`);
    expect(res.status).toBe(200);
    doc = (await res.json()) as typeof doc;
    operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({
        method: method.toUpperCase(),
        path,
        permission: op["x-aragora-permission"],
        security: op.security,
        parameters: (op.parameters as Operation["parameters"] | undefined) ?? [],
      })),
    );
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  test("declares the three ways to prove who you are", () => {
    expect(doc.components.securitySchemes).toMatchObject({
      bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
      apiKey: { type: "apiKey", in: "header", name: "X-API-Key" },
      cookie: { type: "apiKey", in: "cookie", name: "aragora_access" },
    });
  });

  test("every operation names its permission; public exactly for PUBLIC_ROUTES, the schemes for the rest", () => {
    expect(operations.length).toBeGreaterThanOrEqual(30);
    const known = new Set<unknown>([...PERMISSIONS, "public"]);
    for (const op of operations) {
      const route = routeOf(op);
      expect({ route, known: known.has(op.permission) }).toEqual({ route, known: true });
      const isPublic = op.permission === "public";
      expect({ route, isPublic }).toEqual({
        route,
        isPublic: isPublicRoute(op.method, routeOf(op).split(" ")[1] as string),
      });
      expect({ route, security: op.security }).toEqual({ route, security: isPublic ? undefined : SCHEMES });
    }
  });

  test("every entry of PUBLIC_ROUTES is a public operation, a hidden route of the document, the access feature's or the console's", () => {
    const documented = new Map(operations.map((op) => [routeOf(op), op.permission]));
    const consolePaths = new Set<string>(CONSOLE_ROUTES);
    for (const route of PUBLIC_ROUTES) {
      const where = documented.has(route)
        ? documented.get(route)
        : route.startsWith("GET /swagger")
          ? "hidden"
          : route.startsWith("POST /api/auth/")
            ? "access feature"
            : consolePaths.has(route)
              ? "console"
              : "missing";
      expect({ route, where }).toEqual({
        route,
        where: documented.has(route)
          ? "public"
          : route.startsWith("GET /swagger")
            ? "hidden"
            : consolePaths.has(route)
              ? "console"
              : "access feature",
      });
    }
    // The console's pages are not operations of the API.
    for (const route of CONSOLE_ROUTES) expect(documented.has(route)).toBe(false);
  });

  test("every operation but the public ones answers the shell's 401 to a caller without credentials; the public ones do not", async () => {
    for (const op of operations) {
      const path = op.path.replace(/\{[^}]+\}/g, "x");
      const res = await fetch(`${server.api}${path}`, { method: op.method });
      const body = (await res.json().catch(() => ({}))) as { error?: string };
      const route = routeOf(op);
      // A public route may refuse on its own terms (a refresh without a refresh token is 401
      // invalid_refresh_token), never with the shell's "sign in first".
      if (op.permission === "public")
        expect({ route, error: body.error }).not.toEqual({ route, error: "unauthorized" });
      else {
        expect({ route, status: res.status }).toEqual({ route, status: 401 });
        expect(res.headers.get("www-authenticate")).toBe('Bearer realm="aragora"');
      }
    }
    // The hidden public routes answer without credentials too.
    for (const path of ["/swagger", "/swagger/json", "/swagger/assets/swagger-ui.css"]) {
      expect({ path, status: (await fetch(`${server.api}${path}`)).status }).toEqual({ path, status: 200 });
    }
  });

  test("Swagger UI keeps the token it is given (persistAuthorization)", async () => {
    const html = await (await fetch(`${server.api}/swagger`)).text();
    expect(html).toContain('"persistAuthorization":true');
  });
});

/**
 * The principal of a role, as an access token of that role would give it; `operator` is the
 * operator's token, `operator+pwd` and `operator+mfa` a person granted operator whose session
 * did not or did pass a second factor.
 */
function principalOf(role: Role | "operator+pwd" | "operator+mfa"): Principal {
  if (role === "operator") {
    return { kind: "operator", userId: null, orgId: "o-1", workspaceId: "w-1", roles: [role], via: "operator_token" };
  }
  if (role === "operator+pwd" || role === "operator+mfa") {
    const roles: Role[] = ["admin", "operator"];
    return {
      kind: "user",
      userId: "u-op",
      orgId: "o-1",
      workspaceId: "w-1",
      roles,
      mfa: role === "operator+mfa",
      via: "bearer",
    };
  }
  return { kind: "user", userId: `u-${role}`, orgId: "o-1", workspaceId: "w-1", roles: [role], via: "bearer" };
}

/**
 * Recognises `Bearer role:<role>`, and `Bearer later:<role>` a turn later (a token not yet cached);
 * `Bearer bad` is refused by the authenticator itself, `Bearer broken` makes it throw.
 */
const fakeAuthenticator: Authenticator = {
  authenticate(_request, headers) {
    const header = headers.get("authorization");
    if (header === "Bearer bad") return new HttpError(401, "token_expired", "the access token has expired");
    if (header === "Bearer broken") throw new Error("the token cache is broken");
    if (header?.startsWith("Bearer later:")) {
      const role = header.slice(13) as Role;
      return Bun.sleep(5).then(() => principalOf(role));
    }
    const role = header?.startsWith("Bearer role:")
      ? (header.slice(12) as Parameters<typeof principalOf>[0])
      : undefined;
    return role ? principalOf(role) : undefined;
  },
};

describe("the shell's own routes, mounted in process", () => {
  test("every route declares a permission (hidden ones included), but the documentation plugin's and /ws", async () => {
    const log = createLogger("ERROR");
    const system = new ActorSystem({ metricsIntervalMs: 0 });
    const app = createHttpApp({
      config: loadConfig({}),
      log,
      system,
      gateway: new WsGateway({ heartbeatMs: 60_000, log }),
      drain: new Drain(),
      version: "test",
      startedAt: Date.now(),
      authenticator: fakeAuthenticator,
    });
    try {
      // /swagger and /swagger/json are the documentation plugin's (public, in PUBLIC_ROUTES); /ws
      // authenticates at the upgrade and checks each message type's permission (the gateway).
      const exempt = new Set(["GET /swagger", "GET /swagger/json", "WS /ws"]);
      const undeclared = app.routes
        .filter((r) => !exempt.has(`${r.method} ${r.path}`))
        .filter((r) => (r.hooks.detail as Record<string, unknown> | undefined)?.["x-aragora-permission"] === undefined)
        .map((r) => `${r.method} ${r.path}`);
      expect(undeclared).toEqual([]);
      expect(app.routes.length).toBeGreaterThan(8);
    } finally {
      await system.shutdown();
    }
  });
});

describe("the permission check (accessControl on a small app, a fake authenticator)", () => {
  const Body = type({ question: "string > 0", "+": "reject" });
  let app: ReturnType<typeof createHttpApp>;
  let system: ActorSystem;
  const handled: string[] = [];

  beforeAll(() => {
    const log = createLogger("ERROR");
    system = new ActorSystem({ metricsIntervalMs: 0 });
    const routes = new Elysia({ prefix: "/api/things" })
      .use(accessControl)
      .post(
        "",
        ({ body }) => {
          handled.push(body.question);
          return { ok: true };
        },
        { body: validated(Body, "body"), parse: "json", permission: "debates.create" },
      )
      .get("", () => ({ ok: true }), { permission: "debates.read" })
      .get("/admin", () => ({ ok: true }), { permission: "admin.read" });
    app = createHttpApp({
      config: loadConfig({}),
      log,
      system,
      gateway: new WsGateway({ heartbeatMs: 60_000, log }),
      drain: new Drain(),
      version: "test",
      startedAt: Date.now(),
      authenticator: fakeAuthenticator,
      routes: [routes],
    });
  });
  afterAll(async () => {
    await system.shutdown();
  });

  const call = (method: string, path: string, auth: string | undefined, body?: string) =>
    app.handle(
      new Request(`http://localhost${path}`, {
        method,
        headers: {
          ...(auth ? { authorization: auth } : {}),
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body,
      }),
    );
  const metric = async (line: string) => {
    const found = (await registry.metrics()).split("\n").find((l) => l.startsWith(line));
    return found === undefined ? 0 : Number(found.slice(found.lastIndexOf(" ") + 1));
  };

  test("a viewer may read but not start: 403 forbidden naming debates.create, before the body is validated", async () => {
    const denied = 'aragora_rbac_permission_denied_total{permission="debates.create",handler="POST /api/things"}';
    const before = await metric(denied);
    const checksBefore = await metric(
      'aragora_rbac_permission_checks_total{permission="debates.create",result="denied"}',
    );
    // An invalid body: a 422 here would tell a caller who may not use the route what its schema is.
    const res = await call("POST", "/api/things", "Bearer role:viewer", '{"question":"","zzz":1}');
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: string; message: string; details: unknown };
    expect(body.error).toBe("forbidden");
    expect(body.message).toContain("debates.create");
    expect(body.details).toEqual([{ field: "permission", rule: "requires debates.create" }]);
    expect(handled).toEqual([]);
    expect(await metric(denied)).toBe(before + 1);
    expect(await metric('aragora_rbac_permission_checks_total{permission="debates.create",result="denied"}')).toBe(
      checksBefore + 1,
    );
    expect((await call("GET", "/api/things", "Bearer role:viewer")).status).toBe(200);
  });

  test("a member may start: the body is then validated (422) and a valid one handled", async () => {
    expect((await call("POST", "/api/things", "Bearer role:member", '{"question":""}')).status).toBe(422);
    const ok = await call("POST", "/api/things", "Bearer role:member", '{"question":"why?"}');
    expect(ok.status).toBe(200);
    expect(handled).toEqual(["why?"]);
    expect(
      await metric('aragora_rbac_permission_checks_total{permission="debates.create",result="granted"}'),
    ).toBeGreaterThan(0);
    expect(await metric("aragora_rbac_check_latency_seconds_count")).toBeGreaterThan(0);
  });

  test("the platform's permissions are the operator's: an owner is refused admin.read, the operator is not", async () => {
    const owner = await call("GET", "/api/things/admin", "Bearer role:owner");
    expect(owner.status).toBe(403);
    expect(((await owner.json()) as { message: string }).message).toContain("admin.read");
    expect((await call("GET", "/api/things/admin", "Bearer role:operator")).status).toBe(200);
  });

  test("a person granted operator needs a session that passed MFA on an admin route (SOC 2 CC5-01); the operator's token does not", async () => {
    const pwd = await call("GET", "/api/things/admin", "Bearer role:operator+pwd");
    expect(pwd.status).toBe(403);
    const body = (await pwd.json()) as { error: string; message: string };
    expect(body.error).toBe("mfa_required");
    expect(body.message).toContain("POST /api/auth/mfa/totp/enroll");
    expect((await call("GET", "/api/things/admin", "Bearer role:operator+mfa")).status).toBe(200);
    // Not an admin route: a password is enough.
    expect((await call("GET", "/api/things", "Bearer role:operator+pwd")).status).toBe(200);
    expect(
      await metric('aragora_rbac_permission_denied_total{permission="admin.read",handler="GET /api/things/admin"}'),
    ).toBeGreaterThan(1);
  });

  test("no credentials: 401 with the Bearer challenge; the authenticator's own refusal is answered as it is", async () => {
    const anonymous = await call("POST", "/api/things", undefined, '{"question":"x"}');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toBe('Bearer realm="aragora"');
    const expired = await call("GET", "/api/things", "Bearer bad");
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { error: string }).error).toBe("token_expired");
    expect(await metric('aragora_auth_failures_total{reason="token_expired"}')).toBeGreaterThan(0);
    expect(await metric('aragora_auth_failures_total{reason="missing"}')).toBeGreaterThan(0);
    expect(handled).toEqual(["why?"]);
  });

  test("an authenticator that answers later is waited for; one that throws lets nothing through", async () => {
    expect((await call("GET", "/api/things", "Bearer later:viewer")).status).toBe(200);
    const refused = await call("POST", "/api/things", "Bearer later:viewer", '{"question":"late"}');
    expect(refused.status).toBe(403);
    const late = await call("POST", "/api/things", "Bearer later:member", '{"question":"late"}');
    expect(late.status).toBe(200);
    const broken = await call("POST", "/api/things", "Bearer broken", '{"question":"never"}');
    expect(broken.status).toBe(500);
    expect(((await broken.json()) as { error: string }).error).toBe("internal_error");
    expect(handled).toEqual(["why?", "late"]);
  });

  test("the check does not rest on the shell alone: a request the shell did not authenticate is refused 401", async () => {
    // The routes mounted on a bare Elysia app, without the shell's authentication step.
    const bare = new Elysia()
      .onError(({ error }) =>
        error instanceof HttpError ? new Response(error.code, { status: error.status }) : undefined,
      )
      .use(accessControl)
      .get("/x", () => "reached", { permission: "debates.read" });
    const res = await bare.handle(
      new Request("http://localhost/x", { headers: { authorization: "Bearer role:owner" } }),
    );
    expect(res.status).toBe(401);
    expect(await res.text()).toBe("unauthorized");
  });
});

describe("WebSocket message types are guarded by the gateway", () => {
  /** A socket that records what it is sent. */
  function fakeSocket() {
    const sent: Record<string, unknown>[] = [];
    const socket: Socket = {
      send: (data: string | ArrayBufferLike | Uint8Array) => {
        sent.push(JSON.parse(String(data)) as Record<string, unknown>);
        return 1;
      },
      close: () => {},
    } as unknown as Socket;
    return { socket, sent };
  }

  test("a message needing debates.read: forbidden for a principal without it, unauthorized without one", () => {
    const gateway = new WsGateway({ heartbeatMs: 60_000, log: createLogger("ERROR") });
    const reached: string[] = [];
    gateway.on("follow", (conn) => reached.push(conn.principal?.roles.join(",") ?? "none"), {
      permission: "admin.read",
    });
    const cases: [Principal | undefined, string | undefined][] = [
      [principalOf("viewer"), "forbidden"],
      [principalOf("owner"), "forbidden"],
      [undefined, "unauthorized"],
      [principalOf("operator+pwd"), "mfa_required"],
      [principalOf("operator+mfa"), undefined],
      [principalOf("operator"), undefined],
    ];
    for (const [principal, code] of cases) {
      const { socket, sent } = fakeSocket();
      gateway.open(socket, principal);
      gateway.message(socket, JSON.stringify({ type: "follow" }));
      expect(sent[0]?.code).toBe(code);
      if (code === "forbidden") expect(String(sent[0]?.message)).toContain("admin.read");
    }
    expect(reached).toEqual(["admin,operator", "operator"]);
  });
});
