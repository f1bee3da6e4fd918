/**
 * The operator's directory through a real server: GET /api/admin/organisations and
 * /api/admin/users list every organisation and every account (with memberships, or one
 * organisation's members), to the operator token and to a person granted operator whose session
 * passed MFA; an organisation's owner (even with MFA), an operator's session without MFA and an
 * API key are refused; bad queries are 422 naming the field; both are in the OpenAPI document.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { OPERATOR_AUTH, type TestServer } from "../support/server.ts";
import { createTempPostgresDatabase, postgresAvailable, type TempDatabase } from "../support/services.ts";
import { enrolMfa, signInWithMfa, totpCode } from "./mfa-support.ts";
import { call, claimOwner, PASSWORD, type Session, startAccessServer, userWithRole } from "./support.ts";

interface OrgRow {
  id: string;
  name: string;
  created_at: string;
  members: number;
}
interface UserRow {
  id: string;
  email: string;
  name: string;
  is_operator: boolean;
  created_at: string;
  memberships: { org_id: string; org_name: string; role: string }[];
}

let server: TestServer;
let owner: Session;
/** The owner of a second organisation, signed up on their own. */
let grace: Session;
/** Grace again, signed in with a second factor. */
let graceMfa: Session;
let operatorPwd: Session;
let operatorMfa: Session;

beforeAll(async () => {
  server = await startAccessServer({ env: { ARAGORA_SIGNUP: "open" } });
  owner = await claimOwner(server);
  const signedUp = await call<Session>(server, "POST", "/api/auth/sign-up", {
    body: { email: "grace@example.com", password: PASSWORD, name: "Grace", organisation_name: "Hopper Labs" },
  });
  expect(signedUp.status).toBe(201);
  grace = signedUp.body;
  const graceTotp = await enrolMfa(server, grace);
  graceMfa = await signInWithMfa(server, grace.user.email, { code: totpCode(graceTotp.secret, 1) });
  operatorPwd = await userWithRole(server, "admin", {}, ["--operator"]);
  const { secret } = await enrolMfa(server, operatorPwd);
  operatorMfa = await signInWithMfa(server, operatorPwd.user.email, { code: totpCode(secret, 1) });
}, 60_000);

afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

const asOperator = <T>(path: string) => call<T>(server, "GET", path, { headers: OPERATOR_AUTH });

describe("the operator sees every organisation and account", () => {
  test("organisations: both, oldest first, with their live members counted", async () => {
    const res = await asOperator<{ organisations: OrgRow[] }>("/api/admin/organisations");
    expect(res.status).toBe(200);
    expect(res.body.organisations.map((o) => [o.id, o.name, o.members])).toEqual([
      [owner.organisation.id, owner.organisation.name, 2],
      [grace.organisation.id, "Hopper Labs", 1],
    ]);
    expect(Number.isNaN(Date.parse(res.body.organisations[0]?.created_at ?? ""))).toBe(false);
  });

  test("users: every account with its organisations and roles, and no secret", async () => {
    const res = await asOperator<{ users: UserRow[] }>("/api/admin/users");
    expect(res.status).toBe(200);
    const byEmail = new Map(res.body.users.map((u) => [u.email, u]));
    expect([...byEmail.keys()].sort()).toEqual([owner.user.email, operatorPwd.user.email, "grace@example.com"].sort());
    expect(byEmail.get("grace@example.com")).toMatchObject({
      id: grace.user.id,
      is_operator: false,
      memberships: [{ org_id: grace.organisation.id, org_name: "Hopper Labs", role: "owner" }],
    });
    expect(byEmail.get(operatorPwd.user.email)).toMatchObject({
      is_operator: true,
      memberships: [{ org_id: owner.organisation.id, role: "admin" }],
    });
    const text = JSON.stringify(res.body);
    expect(text).not.toContain("password");
    expect(text).not.toContain("$argon2");
  });

  test("users of one organisation: only its members", async () => {
    const res = await asOperator<{ users: UserRow[] }>(`/api/admin/users?org_id=${grace.organisation.id}`);
    expect(res.status).toBe(200);
    expect(res.body.users.map((u) => u.email)).toEqual(["grace@example.com"]);
    const none = await asOperator<{ users: UserRow[] }>("/api/admin/users?org_id=o-no-such-org");
    expect(none.body.users).toEqual([]);
  });

  test("limit bounds the answer", async () => {
    const res = await asOperator<{ users: UserRow[] }>("/api/admin/users?limit=1");
    expect(res.body.users.map((u) => u.email)).toEqual([owner.user.email]);
    const orgs = await asOperator<{ organisations: OrgRow[] }>("/api/admin/organisations?limit=1");
    expect(orgs.body.organisations.map((o) => o.id)).toEqual([owner.organisation.id]);
  });

  test("a person granted operator, with MFA, sees the same", async () => {
    const res = await call<{ organisations: OrgRow[] }>(server, "GET", "/api/admin/organisations", {
      token: operatorMfa.access_token,
    });
    expect(res.status).toBe(200);
    expect(res.body.organisations).toHaveLength(2);
  });
});

describe("everyone else is refused", () => {
  for (const path of ["/api/admin/organisations", "/api/admin/users"]) {
    test(`${path}: an organisation's owner is forbidden, with or without MFA`, async () => {
      const plain = await call(server, "GET", path, { token: grace.access_token });
      expect(plain.status).toBe(403);
      expect(plain.body.error).toBe("forbidden");
      const res = await call(server, "GET", path, { token: graceMfa.access_token });
      expect(res.status).toBe(403);
      expect(res.body.error).toBe("forbidden");
    });

    test(`${path}: an operator's session without MFA is asked for it; no credentials is 401`, async () => {
      const res = await call(server, "GET", path, { token: operatorPwd.access_token });
      expect(res.status).toBe(403);
      expect(res.body.error).toBe("mfa_required");
      expect((await call(server, "GET", path)).status).toBe(401);
    });
  }

  test("an owner with MFA asking for another organisation's users by id is refused, not answered", async () => {
    const res = await call(server, "GET", `/api/admin/users?org_id=${owner.organisation.id}`, {
      token: graceMfa.access_token,
    });
    expect(res.status).toBe(403);
    expect(JSON.stringify(res.body)).not.toContain(owner.user.email);
  });
});

describe("bad queries and the API's description", () => {
  test("a bad limit or an unknown parameter is 422 naming it", async () => {
    for (const [path, field] of [
      ["/api/admin/users?limit=0", "limit"],
      ["/api/admin/organisations?limit=1001", "limit"],
      ["/api/admin/users?limit=many", "limit"],
      ["/api/admin/users?role=owner", "role"],
    ] as const) {
      const res = await asOperator<{ error: string; details: { field: string; rule: string }[] }>(path);
      expect(res.status).toBe(422);
      expect(res.body.details.map((d) => d.field).join(" ")).toContain(field);
    }
  });

  test("both routes are in the OpenAPI document with their query and answer", async () => {
    const doc = (await (await fetch(`${server.api}/swagger/json`)).json()) as {
      paths: Record<string, { get?: { summary?: string; responses?: Record<string, unknown> } }>;
    };
    for (const path of ["/api/admin/organisations", "/api/admin/users"]) {
      const get = doc.paths[path]?.get;
      expect(get?.summary).toContain("operator");
      expect(Object.keys(get?.responses ?? {})).toEqual(expect.arrayContaining(["200", "403", "422"]));
    }
  });
});

describe.skipIf(!(await postgresAvailable()))("the directory on PostgreSQL", () => {
  let db: TempDatabase;
  let pgServer: TestServer;
  beforeAll(async () => {
    db = await createTempPostgresDatabase();
    pgServer = await startAccessServer({ env: { DATABASE_URL: db.url, ARAGORA_SIGNUP: "open" } });
  }, 60_000);
  afterAll(async () => {
    await pgServer?.stop();
    await db?.drop();
  });

  test("counts members as numbers and filters users by organisation", async () => {
    const first = await claimOwner(pgServer);
    const other = await call<Session>(pgServer, "POST", "/api/auth/sign-up", {
      body: { email: "ada@example.com", password: PASSWORD, name: "Ada", organisation_name: "Engines" },
    });
    expect(other.status).toBe(201);
    const orgs = await call<{ organisations: OrgRow[] }>(pgServer, "GET", "/api/admin/organisations", {
      headers: OPERATOR_AUTH,
    });
    expect(orgs.status).toBe(200);
    expect(orgs.body.organisations.map((o) => [o.id, o.members])).toEqual([
      [first.organisation.id, 1],
      [other.body.organisation.id, 1],
    ]);
    // Each organisation counts its own members: two more join the first, one of them is removed.
    const joined = await userWithRole(pgServer, "member", { DATABASE_URL: db.url });
    await userWithRole(pgServer, "viewer", { DATABASE_URL: db.url });
    const removed = await call(pgServer, "DELETE", `/api/org/members/${joined.user.id}`, { token: first.access_token });
    expect(removed.status).toBe(200);
    const counted = await call<{ organisations: OrgRow[] }>(pgServer, "GET", "/api/admin/organisations", {
      headers: OPERATOR_AUTH,
    });
    expect(counted.body.organisations.map((o) => [o.id, o.members])).toEqual([
      [first.organisation.id, 2],
      [other.body.organisation.id, 1],
    ]);
    const firstOnly = await call<{ organisations: OrgRow[] }>(pgServer, "GET", "/api/admin/organisations?limit=1", {
      headers: OPERATOR_AUTH,
    });
    expect(firstOnly.body.organisations.map((o) => [o.id, o.members])).toEqual([[first.organisation.id, 2]]);
    const users = await call<{ users: UserRow[] }>(
      pgServer,
      "GET",
      `/api/admin/users?org_id=${other.body.organisation.id}`,
      { headers: OPERATOR_AUTH },
    );
    expect(users.body.users).toMatchObject([
      {
        email: "ada@example.com",
        memberships: [{ org_id: other.body.organisation.id, org_name: "Engines", role: "owner" }],
      },
    ]);
  });
});
