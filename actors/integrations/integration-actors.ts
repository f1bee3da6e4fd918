/**
 * The integrations feature's part of the supervision tree: `/system/integrations`, a one-for-one
 * supervisor with one IntegrationActor per integration (named by its id, ./integration-actor.ts).
 * The routes reach the actors through it (a new integration gets its actor, an edited one re-reads
 * its row, a removed one is stopped), and so does the webhooks' fan-out, through {@link sink}.
 *
 * @example
 * const actors = new IntegrationActors(system, actorDeps);
 * actors.start(await deliveries.integrationIds());
 * actors.enqueue("int_x", [queuedOutcome(row)]);
 */
import { type ActorRef, type ActorSystem, supervisor } from "../../runtime/actor/index.ts";
import {
  type IntegrationActorDeps,
  type IntegrationMsg,
  integrationActor,
  type QueuedOutcome,
} from "./integration-actor.ts";

export class IntegrationActors {
  private parent: ActorRef<never> | undefined;
  private readonly actors = new Map<string, ActorRef<IntegrationMsg>>();

  constructor(
    private readonly system: ActorSystem,
    private readonly deps: IntegrationActorDeps,
  ) {}

  /** Starts the supervisor and an actor for each of `integrationIds`. */
  start(integrationIds: readonly string[]): void {
    this.parent = this.system.spawn(supervisor(), {
      name: "integrations",
      // One service's trouble must not stop every integration.
      supervisor: { strategy: "one_for_one", maxRestarts: 100, periodMs: 60_000 },
    });
    for (const id of integrationIds) this.spawn(id);
  }

  /** Starts the actor of a new integration. */
  spawn(integrationId: string): void {
    if (this.parent === undefined || this.actors.get(integrationId)?.alive) return;
    const ref = this.system.spawn(integrationActor(this.deps, integrationId), {
      parent: this.parent,
      name: integrationId,
      restart: "transient",
      kind: "integration",
    });
    this.actors.set(integrationId, ref);
  }

  /** The integration's row changed: its actor reads it again. */
  reload(integrationId: string): void {
    const ref = this.actors.get(integrationId);
    if (ref?.alive) ref.tell({ type: "reload" });
    else this.spawn(integrationId);
  }

  /** Hands deliveries to the integration's actor. */
  enqueue(integrationId: string, deliveries: QueuedOutcome[]): void {
    if (deliveries.length > 0) this.actors.get(integrationId)?.tell({ type: "enqueue", deliveries });
  }

  /** Stops a removed integration's actor. */
  async remove(integrationId: string): Promise<void> {
    const ref = this.actors.get(integrationId);
    this.actors.delete(integrationId);
    if (ref?.alive) await this.system.stop(ref as ActorRef<never>);
  }

  /** Stops every integration actor. */
  async stop(): Promise<void> {
    const parent = this.parent;
    this.parent = undefined;
    this.actors.clear();
    if (parent?.alive) await this.system.stop(parent);
  }
}
