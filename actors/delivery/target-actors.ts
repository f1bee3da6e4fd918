/**
 * A target kind's part of the supervision tree: a one-for-one supervisor (`/system/webhooks`,
 * `/system/integrations`) with one target actor per target, named by its id (./target-actor.ts).
 * The routes reach the actors through it: a new target gets its actor, an edited one re-reads its
 * row, a removed one is stopped, new deliveries are handed over, a breaker is read.
 *
 * Several nodes on one PostgreSQL database ({@link TargetCluster}): a target's actor runs only on
 * the node holding its delivery lease (`<name>/leases`, actors/node/lease-keeper.ts; the lease's
 * kind is the target kind), asks the lease before each attempt (fenced), and stops when the lease
 * is lost. What another node writes for a target held here (deliveries its fan-out made, an edit,
 * a dead letter retried) is found by the lease poll every second (./delivery-census.ts): the
 * actor loads again.
 *
 * @example
 * const actors = new TargetActors(system, "integrations", deps, INTEGRATION_TARGET, (id) => integrationLink(linkDeps, id));
 * actors.start(await integrations.ids());
 * actors.enqueue("int_x", [queued(row)]);
 */
import { type ActorRef, type ActorSystem, supervisor } from "../../runtime/actor/index.ts";
import type { FeatureContext } from "../../runtime/feature.ts";
import { LeaseRepository, leaseTables } from "../../runtime/store/leases.ts";
import { LeaseKeeper, type LeaseKeeperMsg } from "../node/lease-keeper.ts";
import { DeliveryCensus } from "./delivery-census.ts";
import { deliveryTables, type TargetKind } from "./delivery-store.ts";
import {
  type QueuedDelivery,
  type TargetActorDeps,
  type TargetKindSpec,
  type TargetLink,
  type TargetMsg,
  type TargetStatus,
  targetActor,
} from "./target-actor.ts";

/** Several nodes on one PostgreSQL database: what leasing a kind's targets takes. */
export interface TargetCluster {
  nodeId: string;
  leases: Pick<LeaseRepository, "renew" | "present" | "list" | "claim" | "release" | "holderOf">;
  census: Pick<DeliveryCensus, "of">;
  /** How long a lease lasts unrenewed. */
  ttlMs: number;
  /** Every target's id (of this kind). */
  targetIds(): Promise<string[]>;
}

/** A cluster's connections, opened by {@link openTargetCluster}; `close` closes them. */
export type OpenTargetCluster = TargetCluster & { close(): Promise<void> };

/**
 * On PostgreSQL, as many nodes as share the database, each target of `kind` delivered for by one
 * of them: the leases and the census of `kind`'s targets; on SQLite (one node) undefined.
 *
 * @example const cluster = await openTargetCluster(ctx, "webhook", { ids: () => store.endpointIds(), updatedAtOf: (ids) => store.updatedAtOf(ids) });
 */
export async function openTargetCluster(
  ctx: Pick<FeatureContext, "store" | "nodeId" | "config">,
  kind: TargetKind,
  targets: { ids(): Promise<string[]>; updatedAtOf: ConstructorParameters<typeof DeliveryCensus>[2] },
): Promise<OpenTargetCluster | undefined> {
  if (ctx.store.kind !== "postgres") return undefined;
  const leases = new LeaseRepository(
    await ctx.store.openRepo(leaseTables, { name: `${kind}-leases`, maxConnections: 1 }),
  );
  const census = new DeliveryCensus(
    await ctx.store.openRepo(deliveryTables, { name: `${kind}-census`, maxConnections: 1 }),
    kind,
    targets.updatedAtOf,
  );
  return {
    nodeId: ctx.nodeId,
    leases,
    census,
    ttlMs: ctx.config.deliveryLeaseSeconds * 1000,
    targetIds: targets.ids,
    close: async () => {
      await Promise.all([leases.close(), census.close()]);
    },
  };
}

/** What a target's actor last reported knowing (cluster only). */
interface Known {
  deliveries: number;
  updatedAt: number | undefined;
}

export class TargetActors {
  /** The supervisor, while started. */
  protected parent: ActorRef<never> | undefined;
  private readonly targets = new Map<string, ActorRef<TargetMsg>>();
  private keeper: LeaseKeeper | undefined;
  private keeperRef: ActorRef<LeaseKeeperMsg> | undefined;
  private readonly known = new Map<string, Known>();
  private readonly deps: TargetActorDeps;

  constructor(
    protected readonly system: ActorSystem,
    private readonly name: string,
    deps: TargetActorDeps,
    private readonly spec: TargetKindSpec,
    private readonly linkOf: (targetId: string) => TargetLink,
    private readonly cluster?: TargetCluster,
  ) {
    this.deps =
      cluster === undefined
        ? deps
        : {
            ...deps,
            holds: (id) => this.keeper?.holds(id) ?? false,
            lease: (id) => {
              const epoch = this.keeper?.epochOf(id);
              return epoch === undefined
                ? undefined
                : { kind: spec.targetKind, targetId: id, nodeId: cluster.nodeId, epoch };
            },
            observe: (id, deliveries, updatedAt) => {
              if (this.targets.has(id)) this.known.set(id, { deliveries, updatedAt });
            },
          };
  }

  /**
   * Starts the supervisor and an actor for each of `targetIds` (one node), or the lease keeper,
   * which starts the actors of the targets this node comes to hold (cluster: `targetIds` unused).
   */
  start(targetIds: readonly string[]): void {
    this.startSupervisor();
    this.startTargets(targetIds);
  }

  /** Starts the supervisor, with no target's actor yet. */
  protected startSupervisor(): void {
    this.parent = this.system.spawn(supervisor(), {
      name: this.name,
      // Many targets: one receiver's trouble must not stop every target.
      supervisor: { strategy: "one_for_one", maxRestarts: 100, periodMs: 60_000 },
    });
  }

  /** Under the supervisor: an actor for each of `targetIds` (one node), or the lease keeper (cluster). */
  protected startTargets(targetIds: readonly string[]): void {
    const cluster = this.cluster;
    if (cluster === undefined) {
      for (const id of targetIds) this.startActor(id);
      return;
    }
    this.keeper = new LeaseKeeper({
      kind: this.spec.targetKind,
      nodeId: cluster.nodeId,
      leases: cluster.leases,
      ttlMs: cluster.ttlMs,
      resources: () => cluster.targetIds(),
      acquired: (id) => this.startActor(id),
      lost: (id) => this.stopActor(id),
      poll: (held) => this.poll(held),
      drain: (id) => this.drain(id),
      log: this.deps.log,
    });
    this.keeperRef = this.system.spawn(this.keeper.behavior(), {
      parent: this.parent,
      name: "leases",
      restart: "permanent",
    });
  }

  /** A new target: its actor starts here (one node), or the node with room takes its lease (cluster). */
  spawn(targetId: string): void {
    if (this.keeperRef !== undefined) this.keeperRef.tell({ type: "renew" });
    else this.startActor(targetId);
  }

  private startActor(targetId: string): void {
    if (this.parent === undefined || this.targets.get(targetId)?.alive) return;
    const ref = this.system.spawn(targetActor(this.deps, this.spec, this.linkOf(targetId)), {
      parent: this.parent,
      name: targetId,
      restart: "transient",
      kind: this.spec.actorKind,
    });
    this.targets.set(targetId, ref);
  }

  /**
   * The target's row changed: its actor reads it again (and sends what waited, if enabled now).
   * Cluster: only where it runs; on the node holding its lease elsewhere, the lease poll finds the
   * change (an actor started here would send beside the holder's).
   */
  reload(targetId: string): void {
    const ref = this.targets.get(targetId);
    if (ref?.alive) ref.tell({ type: "reload" });
    else if (this.cluster === undefined) this.spawn(targetId);
  }

  /** Hands deliveries to the target's actor. */
  enqueue(targetId: string, deliveries: QueuedDelivery[]): void {
    if (deliveries.length > 0) this.targets.get(targetId)?.tell({ type: "enqueue", deliveries });
  }

  /** The target actor's report; undefined when it does not run here. */
  async status(targetId: string): Promise<TargetStatus | undefined> {
    const ref = this.targets.get(targetId);
    if (ref === undefined || !ref.alive) return undefined;
    try {
      return await ref.ask<TargetStatus>({ type: "status" }, { timeoutMs: 2000 });
    } catch {
      return undefined;
    }
  }

  /** Stops a removed target's actor (and gives up its lease). */
  async remove(targetId: string): Promise<void> {
    await this.stopActor(targetId);
    await this.keeper?.forget(targetId);
  }

  private async stopActor(targetId: string): Promise<void> {
    const ref = this.targets.get(targetId);
    this.targets.delete(targetId);
    this.known.delete(targetId);
    if (ref?.alive) await this.system.stop(ref as ActorRef<never>);
  }

  /**
   * The node delivering for each of `targetIds` (its lease's holder; on one node, this one for
   * every target whose actor runs); a target no node delivers for is left out.
   *
   * @example (await actors.deliveringNodes(["wh_1"], ctx.nodeId)).get("wh_1") // "node-7f3a"
   */
  async deliveringNodes(targetIds: readonly string[], nodeId: string): Promise<Map<string, string>> {
    if (this.cluster !== undefined) return this.cluster.leases.holderOf(this.spec.targetKind, targetIds);
    return new Map(targetIds.filter((id) => this.targets.get(id)?.alive).map((id) => [id, nodeId]));
  }

  /** Resolves once the target's actor has no attempt in flight (or does not run). */
  private async drain(targetId: string): Promise<void> {
    for (;;) {
      const status = await this.status(targetId);
      if (status === undefined || status.inFlight === 0) return;
      await Bun.sleep(50);
    }
  }

  /**
   * The lease poll: each held target whose store holds more open deliveries than its actor knows,
   * or whose row changed since the actor read it, loads again.
   */
  private async poll(held: readonly string[]): Promise<void> {
    const census = await this.cluster?.census.of(held);
    if (census === undefined) return;
    for (const id of held) {
      const ref = this.targets.get(id);
      const known = this.known.get(id);
      if (ref === undefined || known === undefined) continue;
      const stored = census.get(id);
      if (stored === undefined || stored.open > known.deliveries || stored.updatedAt !== known.updatedAt) {
        // Until the actor reports again, a second poll does not ask twice.
        this.known.delete(id);
        ref.tell({ type: "load" });
      }
    }
  }

  /** Stops every target actor (and the lease keeper: no lease is renewed from now on). */
  async stop(): Promise<void> {
    const parent = this.parent;
    this.parent = undefined;
    this.keeperRef = undefined;
    this.targets.clear();
    this.known.clear();
    if (parent?.alive) await this.system.stop(parent);
  }

  /**
   * Cluster, at a graceful stop once the attempts made are written (the journal flushed): gives
   * up every lease held, so the other nodes take the targets over at once rather than when the
   * leases expire.
   */
  async releaseLeases(): Promise<void> {
    await this.keeper?.releaseAll();
  }
}
