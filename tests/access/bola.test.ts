/**
 * Broken object-level authorisation, as a table: two organisations (the operator acts in the
 * default one, or in the one X-Org-ID names), one debate each, and every route that takes a debate
 * id, over HTTP and the WebSocket subscribe. Asked about the other organisation's debate, each
 * answers exactly as it answers about a debate that does not exist (status, error code, message);
 * asked about its own, it answers (so the table can fail). The table covers every route of the
 * OpenAPI document that takes a debate id: a new one fails the test until it is added here. The
 * list, the exports and the leaderboard show the caller's organisation only.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../support/server.ts";

let server: TestServer;
/** The second organisation (the first is the operator's default), made by a sign-up in beforeAll. */
let OTHER: Record<string, string>;
/** A third organisation, with no debates. */
let EMPTY: Record<string, string>;
/** A well-formed id no debate has. */
const MISSING = "d-00000000-0000-7000-8000-000000000000";

let mine: string; // finished, in the default organisation
let theirs: string; // finished, in OTHER
let running: string; // running, in the default organisation

const as = (org: Record<string, string>) => ({ headers: org });
const post = (org: Record<string, string>, body?: unknown) => ({
  method: "POST",
  headers: { ...org, "content-type": "application/json" },
  ...(body === undefined ? {} : { body: JSON.stringify(body) }),
});

async function create(org: Record<string, string>, body: Record<string, unknown>): Promise<string> {
  const res = await server.fetch("/api/debates", post(org, body));
  expect(res.status).toBe(201);
  return ((await res.json()) as { debate_id: string }).debate_id;
}

async function finished(org: Record<string, string>, id: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const res = await server.fetch(`/api/debates/${id}/receipt`, as(org));
    if (res.status === 200) return;
    await Bun.sleep(50);
  }
  throw new Error(`debate ${id} got no receipt`);
}

beforeAll(async () => {
  server = await startTestServer({ env: { ARAGORA_DEMO_TOKEN_DELAY_MS: "1", ARAGORA_SIGNUP: "open" } });
  // Each sign-up makes a user and an organisation of their own; the operator names it with X-Org-ID.
  const organisationOf = async (email: string) => {
    const res = await fetch(`${server.api}/api/auth/sign-up`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: "correct horse battery staple", name: email }),
    });
    expect(res.status).toBe(201);
    return { "x-org-id": ((await res.json()) as { organisation: { id: string } }).organisation.id };
  };
  OTHER = await organisationOf("other@bola.example");
  EMPTY = await organisationOf("empty@bola.example");
  // The same debate in each organisation: the demo agents always reach a consensus on this question
  // that two of the three hold, so it rates them (as tests/debate/debates-api.test.ts shows).
  const debate = {
    question: "Should cities ban cars from their centres?",
    agents: ["demo:alice", "demo:bob", "demo:carol"],
    rounds: 2,
  };
  mine = await create({}, debate);
  theirs = await create(OTHER, debate);
  await Promise.all([finished({}, mine), finished(OTHER, theirs)]);
  // Slow enough to still run when the cancel row asks.
  running = await create({}, { question: "Will this one still run?", agents: ["demo:alice", "demo:bob"], rounds: 12 });
}, 60_000);
afterAll(async () => {
  await server.stop();
});

/** A normalised answer: what a caller can tell apart. */
async function answer(res: Response, id: string) {
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {}
  return {
    status: res.status,
    error: body.error,
    // The id a caller asked about is echoed; anything else would differ.
    message: typeof body.message === "string" ? body.message.replaceAll(id, "<id>") : undefined,
  };
}

/** [route as the OpenAPI document names it, how to ask it about a debate id, the status for one's own] */
const ROUTES: [string, (id: string, org: Record<string, string>) => Promise<Response>, number][] = [
  ["GET /api/debates/{id}", (id, org) => server.fetch(`/api/debates/${id}`, as(org)), 200],
  ["GET /api/debates/{id}/events", (id, org) => server.fetch(`/api/debates/${id}/events?since_seq=0`, as(org)), 200],
  ["GET /api/debates/{id}/export", (id, org) => server.fetch(`/api/debates/${id}/export?format=md`, as(org)), 200],
  ["GET /api/debates/{id}/receipt", (id, org) => server.fetch(`/api/debates/${id}/receipt`, as(org)), 200],
  // Last: the own-organisation answer cancels the running debate.
  ["POST /api/debates/{id}/cancel", (id, org) => server.fetch(`/api/debates/${id}/cancel`, post(org)), 200],
];

describe("every route that takes a debate id", () => {
  test("the table names every such route of the OpenAPI document", async () => {
    const doc = (await (await fetch(`${server.api}/swagger/json`)).json()) as { paths: Record<string, object> };
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      path.startsWith("/api/debates/{id}") ? Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`) : [],
    );
    expect(documented.sort()).toEqual(ROUTES.map(([route]) => route).sort());
  });

  for (const [route, ask, ownStatus] of ROUTES) {
    test(`${route}: another organisation's debate answers exactly as a missing one`, async () => {
      // The other organisation asks about our debate, and we about theirs: both as if missing.
      const target = route.includes("cancel") ? running : mine;
      const missing = await answer(await ask(MISSING, OTHER), MISSING);
      expect(missing.status).toBe(404);
      expect(await answer(await ask(target, OTHER), target)).toEqual(missing);
      if (!route.includes("cancel")) expect(await answer(await ask(theirs, {}), theirs)).toEqual(missing);
      // The owner gets an answer: the refusal above is the organisation's, not the route's.
      const own = await ask(target, {});
      expect({ route, status: own.status }).toEqual({ route, status: ownStatus });
      const theirsOwn = route.includes("cancel") ? undefined : await ask(theirs, OTHER);
      if (theirsOwn) expect({ route, status: theirsOwn.status }).toEqual({ route, status: ownStatus });
    });
  }

  for (const listener of ["dedicated", "api"] as const) {
    test(`WS subscribe (${listener} listener): another organisation's debate answers exactly as a missing one`, async () => {
      const url = listener === "api" ? server.wsApi : server.ws;
      const socket = await server.socket(url, { ...server.authHeaders, ...OTHER });
      const own = await server.socket(url);
      try {
        const refusal = async (id: string) => {
          socket.ws.send(JSON.stringify({ type: "subscribe", debate_id: id, since_seq: 0 }));
          const m = await socket.next((x) => x.debate_id === id && (x.type === "error" || x.type === "subscribed"));
          return { type: m.type, code: m.code, message: String(m.message).replaceAll(id, "<id>") };
        };
        const missing = await refusal(MISSING);
        expect(missing).toMatchObject({ type: "error", code: "not_found" });
        expect(await refusal(mine)).toEqual(missing);
        // No event of our debate reached their socket.
        expect(socket.messages.filter((m) => m.debate_id === mine && m.type !== "error")).toEqual([]);
        // Their own debate, on the same socket, and ours on ours: subscribed and replayed.
        socket.ws.send(JSON.stringify({ type: "subscribe", debate_id: theirs, since_seq: 0 }));
        await socket.next((m) => m.debate_id === theirs && m.type === "receipt_generated");
        own.ws.send(JSON.stringify({ type: "subscribe", debate_id: mine, since_seq: 0 }));
        await own.next((m) => m.debate_id === mine && m.type === "receipt_generated");
      } finally {
        socket.ws.close();
        own.ws.close();
      }
    });
  }
});

describe("the collections show the caller's organisation only", () => {
  const ids = (body: unknown) => (body as { debates: { debate_id: string }[] }).debates.map((d) => d.debate_id);

  test("GET /api/debates", async () => {
    const ours = ids(await (await server.fetch("/api/debates", as({}))).json());
    const other = ids(await (await server.fetch("/api/debates", as(OTHER))).json());
    expect(ours).toContain(mine);
    expect(ours).not.toContain(theirs);
    expect(other).toEqual([theirs]);
  });

  test("GET /api/debates/export, every format", async () => {
    for (const format of ["json", "jsonl", "csv", "md"]) {
      const ours = await (await server.fetch(`/api/debates/export?format=${format}`, as({}))).text();
      const other = await (await server.fetch(`/api/debates/export?format=${format}`, as(OTHER))).text();
      expect({ format, ours: ours.includes(mine), theirs: ours.includes(theirs) }).toEqual({
        format,
        ours: true,
        theirs: false,
      });
      expect({ format, ours: other.includes(mine), theirs: other.includes(theirs) }).toEqual({
        format,
        ours: false,
        theirs: true,
      });
    }
  });

  test("GET /api/leaderboard/rankings: ratings from the organisation's own debates", async () => {
    type Rankings = { agents: { name: string; elo: number; debates: number; wins: number; losses: number }[] };
    for (const org of [{}, OTHER]) {
      const agents = ((await (await server.fetch("/api/leaderboard/rankings", as(org))).json()) as Rankings).agents;
      expect(agents.map((a) => a.name).sort()).toEqual(["demo:alice", "demo:bob", "demo:carol"]);
      // One debate each: the other organisation's identical debate is not counted here.
      for (const a of agents)
        expect({ name: a.name, debates: a.debates, decided: a.wins + a.losses }).toEqual({
          name: a.name,
          debates: 1,
          decided: 1,
        });
      expect(agents.reduce((sum, a) => sum + a.elo, 0)).toBeCloseTo(4500, 1);
      expect(agents.some((a) => a.wins === 1) && agents.some((a) => a.losses === 1)).toBe(true);
    }
  });

  test("an organisation with no debates sees none; a malformed X-Org-ID is a 400, an unknown one a 404", async () => {
    const empty = EMPTY;
    expect(ids(await (await server.fetch("/api/debates", as(empty))).json())).toEqual([]);
    expect(
      ((await (await server.fetch("/api/leaderboard/rankings", as(empty))).json()) as { agents: [] }).agents,
    ).toEqual([]);
    const bad = await server.fetch("/api/debates", as({ "x-org-id": "../o-1" }));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe("invalid_org");
    const unknown = await server.fetch("/api/debates", as({ "x-org-id": "o-nobody-has-this-one" }));
    expect(unknown.status).toBe(404);
  });
});
