/**
 * A target kind's part of the supervision tree: a one-for-one supervisor (`/system/webhooks`,
 * `/system/integrations`) with one target actor per target, named by its id (./target-actor.ts).
 * The routes reach the actors through it: a new target gets its actor, an edited one re-reads its
 * row, a removed one is stopped, new deliveries are handed over, a breaker is read.
 *
 * @example
 * const actors = new TargetActors(system, "integrations", deps, INTEGRATION_TARGET, (id) => integrationLink(linkDeps, id));
 * actors.start(await integrations.ids());
 * actors.enqueue("int_x", [queued(row)]);
 */
import { type ActorRef, type ActorSystem, supervisor } from "../../runtime/actor/index.ts";
import {
  type QueuedDelivery,
  type TargetActorDeps,
  type TargetKindSpec,
  type TargetLink,
  type TargetMsg,
  type TargetStatus,
  targetActor,
} from "./target-actor.ts";

export class TargetActors {
  /** The supervisor, while started. */
  protected parent: ActorRef<never> | undefined;
  private readonly targets = new Map<string, ActorRef<TargetMsg>>();

  constructor(
    protected readonly system: ActorSystem,
    private readonly name: string,
    private readonly deps: TargetActorDeps,
    private readonly spec: TargetKindSpec,
    private readonly linkOf: (targetId: string) => TargetLink,
  ) {}

  /** Starts the supervisor and an actor for each of `targetIds`. */
  start(targetIds: readonly string[]): void {
    this.parent = this.system.spawn(supervisor(), {
      name: this.name,
      // Many targets: one receiver's trouble must not stop every target.
      supervisor: { strategy: "one_for_one", maxRestarts: 100, periodMs: 60_000 },
    });
    for (const id of targetIds) this.spawn(id);
  }

  /** Starts the actor of a new target. */
  spawn(targetId: string): void {
    if (this.parent === undefined || this.targets.get(targetId)?.alive) return;
    const ref = this.system.spawn(targetActor(this.deps, this.spec, this.linkOf(targetId)), {
      parent: this.parent,
      name: targetId,
      restart: "transient",
      kind: this.spec.actorKind,
    });
    this.targets.set(targetId, ref);
  }

  /** The target's row changed: its actor reads it again (and sends what waited, if enabled now). */
  reload(targetId: string): void {
    const ref = this.targets.get(targetId);
    if (ref?.alive) ref.tell({ type: "reload" });
    else this.spawn(targetId);
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

  /** Stops a removed target's actor. */
  async remove(targetId: string): Promise<void> {
    const ref = this.targets.get(targetId);
    this.targets.delete(targetId);
    if (ref?.alive) await this.system.stop(ref as ActorRef<never>);
  }

  /** Stops every target actor. */
  async stop(): Promise<void> {
    const parent = this.parent;
    this.parent = undefined;
    this.targets.clear();
    if (parent?.alive) await this.system.stop(parent);
  }
}
