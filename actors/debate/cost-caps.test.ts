import { describe, expect, test } from "bun:test";
import { HttpError } from "../../runtime/http/errors.ts";
import { COST_CAP_FRESH_MS, CostCaps, monthOf } from "./cost-caps.ts";
import type { CostCapRow, UsageRow } from "./debate-store.ts";
import type { DebateSummaryData } from "./types.ts";

/** A store of debates (with their cost) and caps, counting its reads. */
function fakeStore() {
  const debates: { orgId: string; at: number; costUsd: number }[] = [];
  const caps = new Map<string, CostCapRow>();
  const reads = { usage: 0, caps: 0 };
  const summary = (costUsd: number) =>
    ({
      agents: {
        "a:x": {
          turns: 1,
          usage: {
            inputTokens: 1,
            outputTokens: 1,
            cacheReadTokens: 0,
            cacheWriteTokens: 0,
            reasoningTokens: 0,
            estimated: false,
          },
          costUsd,
          costEstimated: false,
          latencyMs: 1,
        },
      },
    }) as unknown as DebateSummaryData;
  return {
    debates,
    reads,
    add: (orgId: string, at: number, costUsd: number) => debates.push({ orgId, at, costUsd }),
    store: {
      usage: async (orgId: string, from: Date, to: Date): Promise<UsageRow[]> => {
        reads.usage++;
        return debates
          .filter((d) => d.orgId === orgId && d.at >= from.getTime() && d.at < to.getTime())
          .map((d, i) => ({
            id: `d-${i}`,
            userId: "u",
            status: "completed",
            createdAt: new Date(d.at),
            summary: summary(d.costUsd),
          }));
      },
      events: async () => [],
      costCap: async (orgId: string) => {
        reads.caps++;
        return caps.get(orgId) ?? null;
      },
      setCostCap: async (orgId: string, capUsd: number | null, by: string, at: Date) => {
        if (capUsd === null) caps.delete(orgId);
        else caps.set(orgId, { orgId, monthlyCostCapUsd: capUsd, updatedBy: by, updatedAt: at });
      },
    },
  };
}

const MAY = Date.UTC(2026, 4, 10, 12);

async function refusal(admitted: undefined | Promise<void> | (() => undefined | Promise<void>)) {
  try {
    await (typeof admitted === "function" ? admitted() : admitted);
    return undefined;
  } catch (err) {
    return err as HttpError;
  }
}

describe("monthly cost caps", () => {
  test("the month is the UTC calendar month", () => {
    expect(monthOf(Date.UTC(2026, 11, 31, 23, 59))).toEqual({
      month: "2026-12",
      start: new Date("2026-12-01T00:00:00Z"),
      end: new Date("2027-01-01T00:00:00Z"),
    });
  });

  test("under the cap a debate is admitted; at it, a 402 naming cap, spend and month", async () => {
    const f = fakeStore();
    let now = MAY;
    const caps = new CostCaps({ store: f.store, defaultCapUsd: 1, now: () => now });
    f.add("o-1", MAY - 86_400_000, 0.6);
    f.add("o-1", Date.UTC(2026, 3, 30), 50); // April's: not this month's
    f.add("o-2", MAY, 5); // another organisation's
    expect(await refusal(caps.admit("o-1"))).toBeUndefined();
    f.add("o-1", MAY, 0.4);
    now += COST_CAP_FRESH_MS;
    const refused = await refusal(caps.admit("o-1"));
    expect(refused).toBeInstanceOf(HttpError);
    expect(refused).toMatchObject({
      status: 402,
      code: "cost_cap_reached",
      fields: { monthly_cost_cap_usd: 1, month_cost_usd: 1, month: "2026-05", cap_source: "default" },
    });
  });

  test("fresh figures answer synchronously, without reading the store", async () => {
    const f = fakeStore();
    let now = MAY;
    const caps = new CostCaps({ store: f.store, defaultCapUsd: 1, now: () => now });
    await caps.admit("o-1");
    const reads = { ...f.reads };
    expect(caps.admit("o-1")).toBeUndefined();
    expect(f.reads).toEqual(reads);
    now += COST_CAP_FRESH_MS - 1;
    expect(caps.admit("o-1")).toBeUndefined();
    now += 1;
    expect(caps.admit("o-1")).toBeInstanceOf(Promise);
  });

  test("a debate admitted here that finishes makes the next admission read the spend again", async () => {
    const f = fakeStore();
    const caps = new CostCaps({ store: f.store, defaultCapUsd: 1, now: () => MAY });
    await caps.admit("o-1");
    caps.started("d-new", "o-1");
    f.add("o-1", MAY, 2);
    // Still the figures from before the debate ran.
    expect(caps.admit("o-1")).toBeUndefined();
    caps.finished("d-other");
    expect(caps.admit("o-1")).toBeUndefined();
    caps.finished("d-new");
    expect((await refusal(() => caps.admit("o-1")))?.status).toBe(402);
  });

  test("without any cap the spend is never summed", async () => {
    const f = fakeStore();
    const caps = new CostCaps({ store: f.store, defaultCapUsd: undefined, now: () => MAY });
    f.add("o-1", MAY, 1e9);
    expect(await refusal(caps.admit("o-1"))).toBeUndefined();
    expect(f.reads.usage).toBe(0);
    caps.started("d-1", "o-1");
    caps.finished("d-1");
    expect(caps.admit("o-1")).toBeUndefined();
  });

  test("an organisation's own cap replaces the default, and removing it restores the default", async () => {
    const f = fakeStore();
    const caps = new CostCaps({ store: f.store, defaultCapUsd: 1, now: () => MAY });
    f.add("o-1", MAY, 3);
    expect((await refusal(caps.admit("o-1")))?.status).toBe(402);
    expect(await caps.set("o-1", 10, "u-owner")).toEqual({
      month: "2026-05",
      capUsd: 10,
      source: "organisation",
      costUsd: 3,
    });
    expect(caps.admit("o-1")).toBeUndefined();
    expect(await caps.set("o-1", null, "u-owner")).toMatchObject({ capUsd: 1, source: "default" });
    expect((await refusal(() => caps.admit("o-1")))?.status).toBe(402);
    expect(await caps.state("o-2")).toEqual({ month: "2026-05", capUsd: 1, source: "default", costUsd: 0 });
  });

  test("a new month starts from nothing", async () => {
    const f = fakeStore();
    let now = Date.UTC(2026, 4, 31, 23, 59, 59);
    const caps = new CostCaps({ store: f.store, defaultCapUsd: 1, now: () => now });
    f.add("o-1", now, 5);
    expect((await refusal(caps.admit("o-1")))?.status).toBe(402);
    now = Date.UTC(2026, 5, 1, 0, 0, 1);
    expect(await refusal(caps.admit("o-1"))).toBeUndefined();
  });

  test("concurrent admissions share one read", async () => {
    const f = fakeStore();
    const caps = new CostCaps({ store: f.store, defaultCapUsd: 1, now: () => MAY });
    await Promise.all([caps.admit("o-1"), caps.admit("o-1"), caps.admit("o-1")]);
    expect(f.reads).toEqual({ usage: 1, caps: 1 });
  });
});
