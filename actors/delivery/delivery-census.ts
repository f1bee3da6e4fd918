/**
 * What the store holds for the targets of one kind this node delivers for: how many deliveries
 * each still has to send (one statement on the shared ledger, by target kind and target id) and
 * when each target's row last changed (its kind's own table). Several nodes on one PostgreSQL
 * database: another node's fan-out, routes and edits write for targets held here without reaching
 * their actors, so the node's lease poll compares this with what each actor knows and tells those
 * behind to load (./target-actors.ts).
 *
 * @example
 * const census = new DeliveryCensus(await store.openRepo(deliveryTables, { name: "webhook-census", maxConnections: 1 }), "webhook", (ids) => webhooks.updatedAtOf(ids));
 * (await census.of(["wh_1"])).get("wh_1"); // { open: 3, updatedAt: 1764892800000 }
 */
import { and, count, eq, inArray } from "drizzle-orm";
import type { Repo } from "../../runtime/store/repo.ts";
import { type deliveryTables, OPEN_STATES, type TargetKind } from "./delivery-store.ts";

/** A target as the store has it. */
export interface TargetCount {
  /** Deliveries PENDING, IN_PROGRESS or RETRYING. */
  open: number;
  /** The target row's updated_at, epoch ms. */
  updatedAt: number;
}

export class DeliveryCensus {
  constructor(
    private readonly repo: Repo<typeof deliveryTables.postgres>,
    private readonly kind: TargetKind,
    /** The kind's own table: when each target's row last changed; a target that does not exist is left out. */
    private readonly updatedAtOf: (ids: readonly string[]) => Promise<Map<string, number>>,
  ) {}

  /** The targets of `ids` that exist, each with its open deliveries and its row's last change. */
  async of(ids: readonly string[]): Promise<Map<string, TargetCount>> {
    const found = new Map<string, TargetCount>();
    if (ids.length === 0) return found;
    const { deliveries } = this.repo.tables;
    // The rows first: a delivery stored between the two reads is counted (a load too many at most).
    const updated = await this.updatedAtOf(ids);
    const open = await this.repo.read((db) =>
      db
        .select({ id: deliveries.endpointId, n: count() })
        .from(deliveries)
        .where(
          and(
            eq(deliveries.targetKind, this.kind),
            inArray(deliveries.endpointId, [...ids]),
            inArray(deliveries.state, [...OPEN_STATES]),
          ),
        )
        .groupBy(deliveries.endpointId),
    );
    const counts = new Map(open.map((r) => [r.id, Number(r.n)]));
    for (const [id, updatedAt] of updated) found.set(id, { open: counts.get(id) ?? 0, updatedAt });
    return found;
  }

  close(): Promise<void> {
    return this.repo.close();
  }
}
