/**
 * Usage and cost caps through a real server, with agents on the fake provider (priced models, so
 * debates cost something) and the demo agents: GET /api/billing/usage sums what the debates
 * themselves recorded (their records' summaries; a cancelled debate's turn_end events), per day,
 * agent and user, for the caller's organisation only (the operator picks one with X-Org-ID); a
 * monthly cost cap (the organisation's own, or ARAGORA_MONTHLY_COST_CAP_USD) turns the next debate
 * into a 402 naming the cap and the spend, a debate that finishes counts at once, and raising the
 * cap lets debates run again.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type FakeProvider, startFakeProvider } from "../fake-provider/index.ts";
import type { TestServer } from "../support/server.ts";
import {
  call,
  claimOwner,
  noSecretsLogged,
  PASSWORD,
  type Session,
  seenSecrets,
  startAccessServer,
  userWithRole,
} from "./support.ts";

interface AgentRecord {
  turns: number;
  usage: { input_tokens: number; output_tokens: number; cache_read_tokens: number; reasoning_tokens: number };
  cost_usd: number;
}
interface DebateRecord {
  debate_id: string;
  status: string;
  created_at: string;
  summary: { agents: Record<string, AgentRecord>; totals: { tokens: number; cost_usd: number } } | null;
}
interface Totals {
  debates: number;
  input_tokens: number;
  output_tokens: number;
  tokens: number;
  cost_usd: number;
}
interface Usage {
  organisation_id: string;
  from: string;
  to: string;
  totals: Totals & { running: number };
  by_day: (Totals & { date: string })[];
  by_user: (Totals & { user_id: string })[];
  by_agent: (Totals & { agent: string; turns: number })[];
  cap: { monthly_cost_cap_usd: number | null; source: string | null; month: string; month_cost_usd: number };
}

const PRICED = ["openai:gpt-4.1-mini", "openai:gpt-4.1"];

interface TurnEnd {
  type: string;
  agent: string;
  data: { usage: { inputTokens: number; outputTokens: number }; cost: { usd: number } };
}

let fake: FakeProvider;
let server: TestServer;
let owner: Session;
let member: Session;
let other: Session;

beforeAll(async () => {
  fake = await startFakeProvider();
  // Every turn reports the same usage: two debates with the same seats and rounds cost the same.
  fake.setDefault({ usage: { input: 1000, output: 400 } });
  server = await startAccessServer({
    env: {
      ...fake.env({ providers: ["openai"] }),
      ARAGORA_DEMO_TOKEN_DELAY_MS: "0",
      ARAGORA_SIGNUP: "open",
      // The default cap: a millionth of a dollar, so one priced debate reaches it.
      ARAGORA_MONTHLY_COST_CAP_USD: "0.000001",
    },
  });
  owner = await claimOwner(server);
  member = await userWithRole(server, "member");
  const signedUp = await call<Session>(server, "POST", "/api/auth/sign-up", {
    body: { email: "other-owner@example.com", password: PASSWORD, name: "Other" },
  });
  if (signedUp.status !== 201) throw new Error(`sign-up answered ${signedUp.status}`);
  other = signedUp.body;
});

afterAll(async () => {
  const leaked = noSecretsLogged(server, seenSecrets);
  await server.stop();
  await fake.stop();
  expect(leaked).toEqual([]);
});

const usageOf = (session: Session | string, query = "", headers: Record<string, string> = {}) =>
  call<Usage>(server, "GET", `/api/billing/usage${query}`, {
    token: typeof session === "string" ? session : session.access_token,
    headers,
  });

const setCap = (session: Session, cap: number | null) =>
  call(server, "PUT", "/api/billing/cap", { token: session.access_token, body: { monthly_cost_cap_usd: cap } });

const start = (session: Session, agents: string[], rounds = 1) =>
  call<{ debate_id: string; error?: string }>(server, "POST", "/api/debates", {
    token: session.access_token,
    body: { question: `What should we do about ${crypto.randomUUID()}?`, agents, rounds },
  });

/** Runs a debate to its end; its record. */
async function debate(session: Session, agents: string[], rounds = 1): Promise<DebateRecord> {
  const made = await start(session, agents, rounds);
  if (made.status !== 201) throw new Error(`POST /api/debates answered ${made.status}: ${JSON.stringify(made.body)}`);
  return finished(session, made.body.debate_id);
}

async function finished(session: Session, id: string): Promise<DebateRecord> {
  const until = Date.now() + 30_000;
  for (;;) {
    const res = await call<DebateRecord>(server, "GET", `/api/debates/${id}`, { token: session.access_token });
    if (res.body.status !== "running") return res.body;
    if (Date.now() > until) throw new Error(`debate ${id} still running`);
    await Bun.sleep(50);
  }
}

/** What the usage report must say, summed from the debates' own records by the test. */
function expected(runs: { by: string; record: DebateRecord }[]) {
  const totals = { debates: 0, input_tokens: 0, output_tokens: 0, tokens: 0, cost_usd: 0 };
  const agents = new Map<string, { debates: number; turns: number; tokens: number; cost_usd: number }>();
  const users = new Map<string, { debates: number; tokens: number; cost_usd: number }>();
  for (const { by, record } of runs) {
    const summary = record.summary;
    if (summary === null) throw new Error(`${record.debate_id} has no summary`);
    totals.debates++;
    const user = users.get(by) ?? { debates: 0, tokens: 0, cost_usd: 0 };
    user.debates++;
    users.set(by, user);
    for (const [name, a] of Object.entries(summary.agents)) {
      const agent = agents.get(name) ?? { debates: 0, turns: 0, tokens: 0, cost_usd: 0 };
      agent.debates++;
      agent.turns += a.turns;
      agent.tokens += a.usage.input_tokens + a.usage.output_tokens;
      agent.cost_usd += a.cost_usd;
      agents.set(name, agent);
      totals.input_tokens += a.usage.input_tokens;
      totals.output_tokens += a.usage.output_tokens;
    }
    totals.tokens += summary.totals.tokens;
    totals.cost_usd += summary.totals.cost_usd;
    user.tokens += summary.totals.tokens;
    user.cost_usd += summary.totals.cost_usd;
  }
  return { totals, agents, users };
}

const today = () => new Date().toISOString().slice(0, 10);

describe("usage and cost caps", () => {
  let ownRuns: { by: string; record: DebateRecord }[];
  let otherRun: DebateRecord;

  test("the report sums what the debates recorded, per day, agent and user", async () => {
    // The first organisation's own cap, well above what these debates cost.
    expect((await setCap(owner, 1000)).status).toBe(200);
    ownRuns = [
      { by: owner.user.id, record: await debate(owner, PRICED) },
      { by: member.user.id, record: await debate(member, ["openai:gpt-4.1-mini", "demo:alice"]) },
      { by: owner.user.id, record: await debate(owner, ["demo:bob", "demo:carol"]) },
    ];
    otherRun = await debate(other, ["openai:gpt-4.1", "demo:alice"]);
    for (const { record } of ownRuns) expect(record.status).toBe("completed");
    const want = expected(ownRuns);
    expect(want.totals.cost_usd).toBeGreaterThan(0);

    const res = await usageOf(owner);
    expect(res.status).toBe(200);
    const got = res.body;
    expect(got.organisation_id).toBe(owner.organisation.id);
    expect(got.from).toBe(`${today().slice(0, 7)}-01`);
    expect(got.to).toBe(today());
    expect(got.totals).toMatchObject({
      debates: 3,
      running: 0,
      input_tokens: want.totals.input_tokens,
      output_tokens: want.totals.output_tokens,
      tokens: want.totals.tokens,
    });
    expect(got.totals.cost_usd).toBeCloseTo(want.totals.cost_usd, 6);

    expect(got.by_day.map((d) => [d.date, d.debates, d.tokens])).toEqual([[today(), 3, want.totals.tokens]]);
    expect(got.by_day[0]?.cost_usd).toBeCloseTo(want.totals.cost_usd, 6);

    expect(got.by_agent.map((a) => a.agent).sort()).toEqual([...want.agents.keys()].sort());
    for (const a of got.by_agent) {
      const w = want.agents.get(a.agent);
      expect({ agent: a.agent, debates: a.debates, turns: a.turns, tokens: a.tokens }).toEqual({
        agent: a.agent,
        debates: w?.debates as number,
        turns: w?.turns as number,
        tokens: w?.tokens as number,
      });
      expect(a.cost_usd).toBeCloseTo(w?.cost_usd as number, 6);
    }
    // Costliest first.
    const costs = got.by_agent.map((a) => a.cost_usd);
    expect(costs).toEqual([...costs].sort((x, y) => y - x));

    expect(got.by_user.map((u) => u.user_id).sort()).toEqual([owner.user.id, member.user.id].sort());
    for (const u of got.by_user) {
      const w = want.users.get(u.user_id);
      expect({ user: u.user_id, debates: u.debates, tokens: u.tokens }).toEqual({
        user: u.user_id,
        debates: w?.debates as number,
        tokens: w?.tokens as number,
      });
      expect(u.cost_usd).toBeCloseTo(w?.cost_usd as number, 6);
    }
    expect(got.cap).toMatchObject({ monthly_cost_cap_usd: 1000, source: "organisation", month: today().slice(0, 7) });
    expect(got.cap.month_cost_usd).toBeCloseTo(want.totals.cost_usd, 6);
  });

  test("each organisation sees its own; the operator picks one with X-Org-ID; only billing.read reads it", async () => {
    const theirs = await usageOf(other);
    expect(theirs.status).toBe(200);
    expect(theirs.body.organisation_id).toBe(other.organisation.id);
    const want = expected([{ by: other.user.id, record: otherRun }]);
    expect(theirs.body.totals).toMatchObject({ debates: 1, tokens: want.totals.tokens });
    expect(theirs.body.totals.cost_usd).toBeCloseTo(want.totals.cost_usd, 6);
    expect(theirs.body.by_user.map((u) => u.user_id)).toEqual([other.user.id]);
    expect(theirs.body.by_agent.map((a) => a.agent).sort()).toEqual(["demo:alice", "openai:gpt-4.1"]);

    const mine = await usageOf(owner);
    expect(mine.body.totals.debates).toBe(3);
    expect(mine.body.by_user.some((u) => u.user_id === other.user.id)).toBe(false);

    const asOperator = await usageOf(server.operatorToken as string, "", { "x-org-id": other.organisation.id });
    expect(asOperator.status).toBe(200);
    expect(asOperator.body).toEqual(theirs.body);

    // Reading billing is an owner's (and the operator's): a member, or another organisation's header, gets nothing.
    expect((await usageOf(member)).status).toBe(403);
    const spoofed = await usageOf(owner, "", { "x-org-id": other.organisation.id });
    expect(spoofed.body.organisation_id).toBe(owner.organisation.id);
    expect((await call(server, "GET", "/api/billing/usage")).status).toBe(401);
  });

  test("from and to select days (UTC, inclusive); a bad range is a 422 naming the field", async () => {
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const none = await usageOf(owner, `?from=${yesterday}&to=${yesterday}`);
    expect(none.status).toBe(200);
    expect(none.body.totals).toMatchObject({ debates: 0, tokens: 0, cost_usd: 0 });
    expect(none.body.by_day).toEqual([]);
    const todayOnly = await usageOf(owner, `?from=${today()}&to=${today()}`);
    expect(todayOnly.body.totals.debates).toBe(3);

    const backwards = await usageOf(owner, `?from=${today()}&to=${yesterday}`);
    expect(backwards.status).toBe(422);
    expect(backwards.body).toMatchObject({ error: "validation_failed", details: [{ field: "query.to" }] });
    const tooLong = await usageOf(owner, "?from=2024-01-01&to=2025-06-01");
    expect(tooLong.status).toBe(422);
    const notADate = await usageOf(owner, "?from=2026-02-30");
    expect(notADate.status).toBe(422);
    expect(JSON.stringify(notADate.body)).toContain("query.from");
    expect((await usageOf(owner, "?org_id=x")).status).toBe(422);
  });

  test("a debate with no recorded summary (cancelled) is counted from its log's turn_end events", async () => {
    const before = (await usageOf(owner)).body;
    // Two proposals answer, the third turn waits until the debate is cancelled.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const quick = { usage: { input: 1000, output: 400 } };
    fake.script({ provider: "openai" }, quick, quick, { ...quick, until: held });
    try {
      const made = await start(owner, PRICED, 12);
      expect(made.status).toBe(201);
      const id = made.body.debate_id;
      const turnEnds = async () =>
        (
          await call<{ events: TurnEnd[] }>(server, "GET", `/api/debates/${id}/events`, { token: owner.access_token })
        ).body.events.filter((e) => e.type === "turn_end");
      let ends: TurnEnd[] = [];
      for (const until = Date.now() + 20_000; ends.length < 2 && Date.now() < until; await Bun.sleep(50)) {
        ends = await turnEnds();
      }
      expect(ends.length).toBeGreaterThanOrEqual(2);
      const cancelled = await call(server, "POST", `/api/debates/${id}/cancel`, { token: owner.access_token });
      expect(cancelled.status).toBe(200);
      const record = await finished(owner, id);
      expect(record.status).toBe("cancelled");
      expect(record.summary).toBeNull();
      ends = await turnEnds();
      const tokens = ends.reduce((n, e) => n + e.data.usage.inputTokens + e.data.usage.outputTokens, 0);
      const cost = ends.reduce((n, e) => n + e.data.cost.usd, 0);
      expect(cost).toBeGreaterThan(0);

      const after = (await usageOf(owner)).body;
      expect(after.totals.debates).toBe(before.totals.debates + 1);
      expect(after.totals.tokens).toBe(before.totals.tokens + tokens);
      expect(after.totals.cost_usd).toBeCloseTo(before.totals.cost_usd + cost, 6);
    } finally {
      release();
      fake.reset();
      fake.setDefault({ usage: { input: 1000, output: 400 } });
    }
  });

  test("at the cap the next debate is a 402 naming cap and spend; raising the cap lets it run", async () => {
    const spent = (await usageOf(owner)).body.cap.month_cost_usd;
    expect(spent).toBeGreaterThan(0);
    const low = Math.round((spent / 2) * 1e6) / 1e6;
    const set = await setCap(owner, low);
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({
      organisation_id: owner.organisation.id,
      monthly_cost_cap_usd: low,
      source: "organisation",
    });

    const refused = await start(member, PRICED);
    expect(refused.status).toBe(402);
    expect(refused.body).toMatchObject({
      error: "cost_cap_reached",
      monthly_cost_cap_usd: low,
      month: today().slice(0, 7),
      cap_source: "organisation",
    });
    expect((refused.body as unknown as { month_cost_usd: number }).month_cost_usd).toBeCloseTo(spent, 6);
    expect(String((refused.body as unknown as { message: string }).message)).toMatch(/monthly cap/);

    // Only billing.manage sets it.
    expect((await setCap(member, 1_000_000)).status).toBe(403);
    expect((await setCap(owner, spent * 10)).status).toBe(200);
    const again = await debate(member, PRICED);
    expect(again.status).toBe("completed");
  });

  test("a debate that finishes counts at once: the one after it is refused within the cache's lifetime", async () => {
    const before = (await usageOf(owner)).body.cap.month_cost_usd;
    const one = expected([{ by: owner.user.id, record: ownRuns[0]?.record as DebateRecord }]).totals.cost_usd;
    // Room for one more debate like the first (same seats, rounds and replies), not for two.
    expect((await setCap(owner, Math.round((before + one / 2) * 1e6) / 1e6)).status).toBe(200);
    const ran = await debate(owner, PRICED);
    expect(ran.status).toBe("completed");
    expect(ran.summary?.totals.cost_usd).toBeCloseTo(one, 6);
    const refused = await start(owner, PRICED);
    expect(refused.status).toBe(402);
  });

  test("the configured default caps an organisation without its own; its own cap replaces it", async () => {
    const refused = await start(other, ["openai:gpt-4.1", "demo:alice"]);
    expect(refused.status).toBe(402);
    expect(refused.body).toMatchObject({
      error: "cost_cap_reached",
      monthly_cost_cap_usd: 0.000001,
      cap_source: "default",
    });
    const cap = await call(server, "GET", "/api/billing/cap", { token: other.access_token });
    expect(cap.body).toMatchObject({ monthly_cost_cap_usd: 0.000001, source: "default" });
    expect((await setCap(other, 1000)).status).toBe(200);
    expect((await start(other, ["demo:bob", "demo:alice"])).status).toBe(201);
    // Back to the default.
    const reverted = await setCap(other, null);
    expect(reverted.body).toMatchObject({ monthly_cost_cap_usd: 0.000001, source: "default" });
    // The first organisation's cap is its own business.
    expect((await call(server, "GET", "/api/billing/cap", { token: owner.access_token })).body).toMatchObject({
      source: "organisation",
    });
  });

  test("a cap must be a positive number or null", async () => {
    for (const bad of [0, -5, "10", true]) {
      const res = await call(server, "PUT", "/api/billing/cap", {
        token: owner.access_token,
        body: { monthly_cost_cap_usd: bad },
      });
      expect({ bad, status: res.status }).toEqual({ bad, status: 422 });
    }
    const extra = await call(server, "PUT", "/api/billing/cap", {
      token: owner.access_token,
      body: { monthly_cost_cap_usd: 5, org_id: other.organisation.id },
    });
    expect(extra.status).toBe(422);
  });
});
