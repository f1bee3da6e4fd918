/**
 * What debates spent, from what they recorded: a finished debate's summary (per agent: turns,
 * tokens, cost), or, for a debate that has none (still running, cancelled, or failed after its
 * crashes), the `turn_end` events of its log, each turn counted once. Summed per organisation,
 * day (UTC, of the debate's creation), user (its creator) and agent, for GET /api/billing/usage
 * and the monthly cost cap.
 *
 * @example
 * const debates = await debateUsages(store, "o-1", monthStart, monthEnd);
 * usageReport(debates).totals.cost_usd; // 0.0421
 */
import type { DebateStore, StoredEvent, UsageRow } from "./debate-store.ts";
import type { DebateSummaryData } from "./types.ts";

/** One agent's spending in one debate. */
export interface AgentUsage {
  turns: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  costUsd: number;
  /** Some count or cost is an estimate (the provider sent no usage). */
  estimated: boolean;
}

/** One debate's spending, per agent. */
export interface DebateUsage {
  id: string;
  userId: string;
  createdAt: Date;
  running: boolean;
  agents: Record<string, AgentUsage>;
}

const zero = (): AgentUsage => ({
  turns: 0,
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0,
  costUsd: 0,
  estimated: false,
});

/**
 * Per-agent usage from a debate's recorded summary.
 *
 * @example usageFromSummary(row.summary)["demo:alice"].costUsd
 */
export function usageFromSummary(summary: DebateSummaryData): Record<string, AgentUsage> {
  const out: Record<string, AgentUsage> = {};
  for (const [agent, t] of Object.entries(summary.agents)) {
    out[agent] = {
      turns: t.turns,
      inputTokens: t.usage.inputTokens,
      outputTokens: t.usage.outputTokens,
      cacheReadTokens: t.usage.cacheReadTokens,
      cacheWriteTokens: t.usage.cacheWriteTokens,
      reasoningTokens: t.usage.reasoningTokens,
      costUsd: t.costUsd,
      estimated: t.costEstimated || t.usage.estimated,
    };
  }
  return out;
}

interface TurnEndData {
  phase?: string;
  usage: {
    inputTokens: number;
    outputTokens: number;
    cacheReadTokens: number;
    cacheWriteTokens: number;
    reasoningTokens: number;
    estimated: boolean;
  };
  cost: { usd: number; estimated: boolean };
}

/**
 * Per-agent usage from a debate's log: its `turn_end` events, each turn (round, phase, agent)
 * counted once.
 *
 * @example usageFromEvents(await store.events("d-42", 0))
 */
export function usageFromEvents(events: readonly StoredEvent[]): Record<string, AgentUsage> {
  const out: Record<string, AgentUsage> = {};
  const seen = new Set<string>();
  for (const e of events) {
    if (e.type !== "turn_end" || e.agent === null) continue;
    const data = (JSON.parse(e.payload) as { data: TurnEndData }).data;
    const turn = `${e.round}|${data.phase ?? ""}|${e.agent}`;
    if (seen.has(turn)) continue;
    seen.add(turn);
    out[e.agent] ??= zero();
    const a = out[e.agent] as AgentUsage;
    a.turns++;
    a.inputTokens += data.usage.inputTokens;
    a.outputTokens += data.usage.outputTokens;
    a.cacheReadTokens += data.usage.cacheReadTokens;
    a.cacheWriteTokens += data.usage.cacheWriteTokens;
    a.reasoningTokens += data.usage.reasoningTokens;
    a.costUsd += data.cost.usd;
    a.estimated ||= data.usage.estimated || data.cost.estimated;
  }
  return out;
}

/**
 * The usage of `orgId`'s debates created in [from, to): each from its summary, or its log when it
 * has none.
 *
 * @example const debates = await debateUsages(store, principal.orgId, from, to);
 */
export async function debateUsages(
  store: Pick<DebateStore, "usage" | "events">,
  orgId: string,
  from: Date,
  to: Date,
): Promise<DebateUsage[]> {
  const rows = await store.usage(orgId, from, to);
  const out: DebateUsage[] = [];
  for (const row of rows) out.push(await usageOf(store, row));
  return out;
}

async function usageOf(store: Pick<DebateStore, "events">, row: UsageRow): Promise<DebateUsage> {
  const agents = row.summary ? usageFromSummary(row.summary) : usageFromEvents(await store.events(row.id, 0));
  return { id: row.id, userId: row.userId, createdAt: row.createdAt, running: row.status === "running", agents };
}

/** Token and cost sums of a group of debates. */
export interface UsageTotals {
  debates: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  /** Input plus output tokens, as a debate's own `summary.totals.tokens` counts them. */
  tokens: number;
  cost_usd: number;
  estimated: boolean;
}

/** {@link usageReport}'s answer. */
export interface UsageReport {
  totals: UsageTotals & { running: number };
  by_day: (UsageTotals & { date: string })[];
  by_user: (UsageTotals & { user_id: string })[];
  by_agent: (UsageTotals & { agent: string; turns: number })[];
}

const emptyTotals = (): UsageTotals => ({
  debates: 0,
  input_tokens: 0,
  output_tokens: 0,
  cache_read_tokens: 0,
  cache_write_tokens: 0,
  reasoning_tokens: 0,
  tokens: 0,
  cost_usd: 0,
  estimated: false,
});

function add(t: UsageTotals, a: AgentUsage): void {
  t.input_tokens += a.inputTokens;
  t.output_tokens += a.outputTokens;
  t.cache_read_tokens += a.cacheReadTokens;
  t.cache_write_tokens += a.cacheWriteTokens;
  t.reasoning_tokens += a.reasoningTokens;
  t.tokens += a.inputTokens + a.outputTokens;
  t.cost_usd += a.costUsd;
  t.estimated ||= a.estimated;
}

/** Sums of floats in dollars, shown to the micro-dollar as debates record them. */
const usd = (n: number) => Math.round(n * 1e6) / 1e6;

/**
 * The debate's total cost.
 *
 * @example costOf(debate) // 0.0123
 */
export function costOf(debate: DebateUsage): number {
  let cost = 0;
  for (const a of Object.values(debate.agents)) cost += a.costUsd;
  return cost;
}

/**
 * Totals, and the same per day (UTC date of creation, oldest first), per user and per agent
 * (costliest first).
 *
 * @example usageReport(await debateUsages(store, orgId, from, to)).by_agent[0].agent
 */
export function usageReport(debates: readonly DebateUsage[]): UsageReport {
  const totals = { ...emptyTotals(), running: 0 };
  const days = new Map<string, UsageTotals & { date: string }>();
  const users = new Map<string, UsageTotals & { user_id: string }>();
  const agents = new Map<string, UsageTotals & { agent: string; turns: number }>();
  for (const d of debates) {
    const date = d.createdAt.toISOString().slice(0, 10);
    const day = days.get(date) ?? { date, ...emptyTotals() };
    days.set(date, day);
    const user = users.get(d.userId) ?? { user_id: d.userId, ...emptyTotals() };
    users.set(d.userId, user);
    totals.debates++;
    day.debates++;
    user.debates++;
    if (d.running) totals.running++;
    for (const [name, a] of Object.entries(d.agents)) {
      const agent = agents.get(name) ?? { agent: name, turns: 0, ...emptyTotals() };
      agents.set(name, agent);
      agent.debates++;
      agent.turns += a.turns;
      for (const t of [totals, day, user, agent]) add(t, a);
    }
  }
  const round = <T extends UsageTotals>(t: T): T => ({ ...t, cost_usd: usd(t.cost_usd) });
  const costliest =
    <T extends UsageTotals>(key: (t: T) => string) =>
    (a: T, b: T) =>
      b.cost_usd - a.cost_usd || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
  return {
    totals: round(totals),
    by_day: [...days.values()].sort((a, b) => (a.date < b.date ? -1 : 1)).map(round),
    by_user: [...users.values()].map(round).sort(costliest((t) => t.user_id)),
    by_agent: [...agents.values()].map(round).sort(costliest((t) => t.agent)),
  };
}
