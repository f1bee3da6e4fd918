/**
 * Monthly cost caps: an organisation's own (PUT /api/billing/cap, stored in
 * `organisation_cost_caps`) or the configured default (ARAGORA_MONTHLY_COST_CAP_USD). A new
 * debate of an organisation whose debates of the month (UTC, by creation; ./usage.ts counts them)
 * already cost the cap or more is refused with 402 `cost_cap_reached`, naming the cap and the spend.
 *
 * Creating a debate must stay cheap, so each organisation's cap and month's cost are kept here and
 * read again when they may have changed: at once when a debate this process admitted for it
 * finishes, or its cap is set here; otherwise after {@link COST_CAP_FRESH_MS} (debates other
 * nodes run, and the cost running debates add turn by turn). An organisation without a cap
 * never has its cost summed. The check is synchronous while the figures are fresh.
 *
 * A cap stops new debates, not running ones: debates started just under the cap may take the month
 * past it (a debate's own `budget.max_cost_usd` bounds each of them).
 *
 * @example
 * const caps = new CostCaps({ store, defaultCapUsd: config.defaultMonthlyCostCapUsd });
 * await caps.admit(principal.orgId); // throws the 402 when the month's cost is at or over the cap
 */
import { HttpError } from "../../runtime/http/errors.ts";
import { metrics } from "../../runtime/metrics.ts";
import type { DebateStore } from "./debate-store.ts";
import { costOf, debateUsages } from "./usage.ts";

/** How long an organisation's cap and month's cost are trusted without reading them again. */
export const COST_CAP_FRESH_MS = 15_000;

/** Where the cap that applies comes from. */
export type CapSource = "organisation" | "default";

/** An organisation's cap and the month's cost so far. */
export interface CapState {
  /** `YYYY-MM` (UTC). */
  month: string;
  capUsd: number | null;
  source: CapSource | null;
  /** The month's cost; computed only when there is a cap (and by {@link CostCaps.state}). */
  costUsd: number | undefined;
}

interface Entry extends CapState {
  loadedAt: number;
}

export interface CostCapsOptions {
  store: Pick<DebateStore, "usage" | "events" | "costCap" | "setCostCap">;
  /** The cap of an organisation without its own; undefined: none. */
  defaultCapUsd: number | undefined;
  /** Wall-clock epoch ms; default Date.now. */
  now?: () => number;
}

/** The first instant of `now`'s UTC month and of the next, and its `YYYY-MM`. */
export function monthOf(now: number): { month: string; start: Date; end: Date } {
  const d = new Date(now);
  const start = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
  const end = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
  return { month: start.toISOString().slice(0, 7), start, end };
}

const usd = (n: number) => Math.round(n * 1e6) / 1e6;

export class CostCaps {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Entry>>();
  /** Debates admitted here for an organisation with a cap: their end changes its month's cost. */
  private readonly admitted = new Map<string, string>();
  private readonly now: () => number;

  constructor(private readonly options: CostCapsOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Refuse a new debate of `orgId` when its month's cost is at or over its cap: nothing (at once,
   * while the figures are fresh) or a Promise; throws (or rejects with) the 402.
   *
   * @example const admitted = caps.admit(orgId); if (admitted) await admitted;
   */
  admit(orgId: string): undefined | Promise<void> {
    const entry = this.entries.get(orgId);
    if (entry !== undefined && this.fresh(entry)) {
      refuseOver(entry);
      return undefined;
    }
    return this.load(orgId).then(refuseOver);
  }

  /**
   * A debate admitted for `orgId` started: its end is when the month's cost changes.
   *
   * @example caps.started(debateId, orgId);
   */
  started(debateId: string, orgId: string): void {
    const entry = this.entries.get(orgId);
    if (entry === undefined || entry.capUsd === null) return;
    // Bounded: an entry whose debate ends on another node (a drain) would otherwise stay.
    if (this.admitted.size >= 100_000) this.admitted.clear();
    this.admitted.set(debateId, orgId);
  }

  /**
   * A debate ended: read its organisation's figures again at its next debate.
   *
   * @example onFinished: (id) => caps.finished(id)
   */
  finished(debateId: string): void {
    const orgId = this.admitted.get(debateId);
    if (orgId === undefined) return;
    this.admitted.delete(debateId);
    this.entries.delete(orgId);
  }

  /**
   * The cap that applies to `orgId` and the month's cost, read fresh.
   *
   * @example const { capUsd, costUsd } = await caps.state(orgId);
   */
  async state(orgId: string): Promise<CapState> {
    this.entries.delete(orgId);
    const entry = await this.load(orgId, true);
    return { month: entry.month, capUsd: entry.capUsd, source: entry.source, costUsd: entry.costUsd };
  }

  /**
   * Set `orgId`'s own cap (null: back to the default) and answer its state.
   *
   * @example await caps.set(orgId, 50, principal.userId ?? "operator");
   */
  async set(orgId: string, capUsd: number | null, by: string): Promise<CapState> {
    await this.options.store.setCostCap(orgId, capUsd, by, new Date(this.now()));
    return this.state(orgId);
  }

  private fresh(entry: Entry): boolean {
    const now = this.now();
    return now - entry.loadedAt < COST_CAP_FRESH_MS && monthOf(now).month === entry.month;
  }

  /** Read the cap and (with a cap, or when asked) the month's cost; concurrent callers share one read. */
  private load(orgId: string, withCost = false): Promise<Entry> {
    const pending = this.loading.get(orgId);
    if (pending !== undefined && !withCost) return pending;
    const read = (async (): Promise<Entry> => {
      const loadedAt = this.now();
      const { month, start, end } = monthOf(loadedAt);
      const own = await this.options.store.costCap(orgId);
      const defaultCap = this.options.defaultCapUsd ?? null;
      const capUsd = own?.monthlyCostCapUsd ?? defaultCap;
      const source: CapSource | null = own ? "organisation" : defaultCap === null ? null : "default";
      let costUsd: number | undefined;
      if (capUsd !== null || withCost) {
        let total = 0;
        for (const d of await debateUsages(this.options.store, orgId, start, end)) total += costOf(d);
        costUsd = usd(total);
      }
      const entry: Entry = { month, capUsd, source, costUsd, loadedAt };
      this.entries.set(orgId, entry);
      return entry;
    })().finally(() => {
      if (this.loading.get(orgId) === read) this.loading.delete(orgId);
    });
    this.loading.set(orgId, read);
    return read;
  }
}

/** The 402 of an organisation at or over its cap. */
function refuseOver(entry: CapState): void {
  const { capUsd, costUsd, month } = entry;
  if (capUsd === null || costUsd === undefined || costUsd < capUsd) return;
  metrics.costCapRefusals.inc();
  throw new HttpError(
    402,
    "cost_cap_reached",
    `this organisation's debates cost ${costUsd} USD in ${month}, at or over its monthly cap of ${capUsd} USD: no new debate until the month ends or an owner raises the cap (PUT /api/billing/cap)`,
    undefined,
    {},
    { monthly_cost_cap_usd: capUsd, month_cost_usd: costUsd, month, cap_source: entry.source },
  );
}
