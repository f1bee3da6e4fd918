/**
 * The runbook's instrumented integration store: every operation (get, save, delete, list,
 * refresh_token) timed and counted by outcome, `get` answered from a cache when it can (hits and
 * misses counted), unhealthy after 3 consecutive failures and healthy again after a success; the
 * figures as the runbook's `get_integration_metrics()` and `health_check()` shapes, and as the
 * `aragora_integration_store_*` metrics.
 *
 * @example
 * const store = new InstrumentedIntegrationStore(sql, { backendType: "sqlite" });
 * await store.get("org-1", "int_x"); // a miss, then cached
 * store.health(); // { healthy: true, backend_type: "sqlite", consecutive_failures: 0, ... }
 */
import { metrics } from "../../runtime/metrics.ts";
import type { IntegrationBackend, IntegrationInput, IntegrationRow } from "./integration-store.ts";

export const INTEGRATION_OPERATIONS = ["get", "save", "delete", "list", "refresh_token"] as const;
export type IntegrationOperation = (typeof INTEGRATION_OPERATIONS)[number];

/** Consecutive failures that make the store unhealthy (the runbook's 3). */
export const UNHEALTHY_AFTER = 3;

export interface OperationFigures {
  total_calls: number;
  success_rate: number;
  avg_latency_seconds: number;
}

/** The runbook's `get_integration_metrics()`. */
export interface IntegrationStoreMetrics {
  backend_type: string;
  is_healthy: boolean;
  /** Percent of gets answered from the cache. */
  cache_hit_rate: number;
  operations: Record<IntegrationOperation, OperationFigures>;
}

/** The runbook's `health_check()` / `get_integration_health()`. */
export interface IntegrationStoreHealth {
  healthy: boolean;
  backend_type: string;
  consecutive_failures: number;
  active_integrations: number;
  operations_summary: { get_success_rate: number; save_success_rate: number; cache_hit_rate: number };
}

export interface InstrumentedStoreOptions {
  /** "sqlite" or "postgresql": the `backend` label and the answers' backend_type. */
  readonly backendType: string;
  /** How long a cached get stands, in milliseconds (default 60 s); other nodes' changes show after it. */
  readonly cacheTtlMs?: number;
  /** Most integrations cached (default 10,000). */
  readonly cacheSize?: number;
  /** Monotonic milliseconds (default performance.now). */
  readonly now?: () => number;
}

/** `part` of `whole` in percent, one decimal; `empty` when there is no whole. */
const percent = (part: number, whole: number, empty = 100) =>
  whole === 0 ? empty : Math.round((part / whole) * 1000) / 10;

export class InstrumentedIntegrationStore {
  private readonly figures = new Map<IntegrationOperation, { calls: number; successes: number; seconds: number }>(
    INTEGRATION_OPERATIONS.map((op) => [op, { calls: 0, successes: 0, seconds: 0 }]),
  );
  private readonly cache = new Map<string, { row: IntegrationRow | undefined; at: number }>();
  private hits = 0;
  private misses = 0;
  private failuresInARow = 0;
  private active = 0;
  private readonly ttl: number;
  private readonly size: number;
  private readonly now: () => number;

  constructor(
    private readonly base: IntegrationBackend,
    private readonly options: InstrumentedStoreOptions,
  ) {
    this.ttl = options.cacheTtlMs ?? 60_000;
    this.size = options.cacheSize ?? 10_000;
    this.now = options.now ?? (() => performance.now());
    metrics.integrationStoreHealth.set({ backend: options.backendType }, 1);
  }

  /** Runs one operation, timing and counting it; failures are counted and rethrown. */
  private async measure<T>(op: IntegrationOperation, run: () => Promise<T>): Promise<T> {
    const started = this.now();
    const figures = this.figures.get(op) as { calls: number; successes: number; seconds: number };
    let ok = false;
    try {
      const result = await run();
      ok = true;
      return result;
    } finally {
      const seconds = (this.now() - started) / 1000;
      figures.calls++;
      figures.seconds += seconds;
      metrics.integrationStoreLatency.observe({ operation: op }, seconds);
      metrics.integrationStoreOperations.inc({ operation: op, status: ok ? "success" : "failure" });
      if (ok) {
        figures.successes++;
        this.failuresInARow = 0;
      } else {
        this.failuresInARow++;
      }
      metrics.integrationStoreConsecutiveFailures.set(this.failuresInARow);
      metrics.integrationStoreHealth.set({ backend: this.options.backendType }, this.healthy() ? 1 : 0);
    }
  }

  private healthy(): boolean {
    return this.failuresInARow < UNHEALTHY_AFTER;
  }

  private key = (orgId: string, id: string) => `${orgId}\u0000${id}`;

  /** Drops a cached integration another writer changed (its actor disabling it after a 410). */
  invalidate(orgId: string, id: string): void {
    this.forget(orgId, id);
  }

  private forget(orgId: string, id: string): void {
    this.cache.delete(this.key(orgId, id));
  }

  private async recount(): Promise<void> {
    this.active = await this.base.countEnabled();
    metrics.integrationStoreActive.set(this.active);
  }

  /** The organisation's integration, from the cache when it is fresh there. */
  get(orgId: string, id: string): Promise<IntegrationRow | undefined> {
    return this.measure("get", async () => {
      const key = this.key(orgId, id);
      const cached = this.cache.get(key);
      if (cached !== undefined && this.now() - cached.at < this.ttl) {
        this.hits++;
        metrics.integrationStoreCacheHitRate.set(percent(this.hits, this.hits + this.misses, 0));
        return cached.row;
      }
      this.misses++;
      metrics.integrationStoreCacheHitRate.set(percent(this.hits, this.hits + this.misses, 0));
      const row = await this.base.get(orgId, id);
      if (this.cache.size >= this.size) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(key, { row, at: this.now() });
      return row;
    });
  }

  list(orgId: string): Promise<IntegrationRow[]> {
    return this.measure("list", async () => {
      const rows = await this.base.list(orgId);
      await this.recount();
      return rows;
    });
  }

  save(input: IntegrationInput, by: string, now: Date): Promise<IntegrationRow | undefined> {
    return this.measure("save", async () => {
      const row = await this.base.save(input, by, now);
      if (row !== undefined) this.forget(row.orgId, row.id);
      await this.recount();
      return row;
    });
  }

  delete(orgId: string, id: string): Promise<boolean> {
    return this.measure("delete", async () => {
      this.forget(orgId, id);
      const removed = await this.base.delete(orgId, id);
      await this.recount();
      return removed;
    });
  }

  refreshToken(orgId: string, id: string, secrets: Readonly<Record<string, unknown>>, now: Date): Promise<boolean> {
    return this.measure("refresh_token", async () => {
      this.forget(orgId, id);
      return this.base.refreshToken(orgId, id, secrets, now);
    });
  }

  /** The runbook's metrics shape. */
  metrics(): IntegrationStoreMetrics {
    const operations = Object.fromEntries(
      INTEGRATION_OPERATIONS.map((op) => {
        const f = this.figures.get(op) as { calls: number; successes: number; seconds: number };
        return [
          op,
          {
            total_calls: f.calls,
            success_rate: percent(f.successes, f.calls),
            avg_latency_seconds: f.calls === 0 ? 0 : f.seconds / f.calls,
          },
        ];
      }),
    ) as Record<IntegrationOperation, OperationFigures>;
    return {
      backend_type: this.options.backendType,
      is_healthy: this.healthy(),
      cache_hit_rate: percent(this.hits, this.hits + this.misses, 0),
      operations,
    };
  }

  /** The runbook's health shape. */
  health(): IntegrationStoreHealth {
    const m = this.metrics();
    return {
      healthy: m.is_healthy,
      backend_type: m.backend_type,
      consecutive_failures: this.failuresInARow,
      active_integrations: this.active,
      operations_summary: {
        get_success_rate: m.operations.get.success_rate,
        save_success_rate: m.operations.save.success_rate,
        cache_hit_rate: m.cache_hit_rate,
      },
    };
  }
}
