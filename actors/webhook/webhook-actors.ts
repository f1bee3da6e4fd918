/**
 * The webhooks feature's part of the supervision tree: `/system/webhooks`, a one-for-one supervisor
 * with the fan-out (`fanout`, ./event-fanout.ts), the ops runs' fan-out when the server runs
 * playbooks (`ops-fanout`, ./ops-event-fanout.ts) and one WebhookEndpointActor per endpoint (the
 * delivery engine's target actor, named by its id: ../delivery/target-actors.ts, ./endpoint-actor.ts).
 * Several nodes on one PostgreSQL database: the fan-out runs on every node, each endpoint's actor
 * only on the node holding its lease (the lease keeper, `leases`, beside them).
 *
 * @example
 * const actors = new WebhookActors(system, engineDeps, linkDeps, fanoutDeps);
 * actors.start(await store.endpointIds());
 * actors.enqueue("wh-1", [queued(row)]);
 */
import type { ActorRef, ActorSystem } from "../../runtime/actor/index.ts";
import type { TargetActorDeps } from "../delivery/target-actor.ts";
import { TargetActors, type TargetCluster } from "../delivery/target-actors.ts";
import { type EndpointLinkDeps, endpointLink, WEBHOOK_TARGET } from "./endpoint-actor.ts";
import { eventFanout, type FanoutDeps, type FanoutMsg } from "./event-fanout.ts";
import { type OpsFanoutDeps, opsEventFanout } from "./ops-event-fanout.ts";

export class WebhookActors extends TargetActors {
  private fanout: ActorRef<FanoutMsg> | undefined;
  private opsFanout: ActorRef<FanoutMsg> | undefined;
  /** A drain is queued and has not started: further kicks add nothing. */
  private kicked = false;

  constructor(
    system: ActorSystem,
    engineDeps: TargetActorDeps,
    linkDeps: EndpointLinkDeps,
    private readonly fanoutDeps: Omit<FanoutDeps, "enqueue">,
    /** The ops runs' events (absent: no ops fan-out). */
    private readonly opsFanoutDeps?: Omit<OpsFanoutDeps, "enqueue">,
    cluster?: TargetCluster,
  ) {
    super(system, "webhooks", engineDeps, WEBHOOK_TARGET, (id) => endpointLink(linkDeps, id), cluster);
  }

  /**
   * Starts the supervisor, the fan-out, and an actor for each of `endpointIds` (one node), or the
   * lease keeper, which starts the actors of the endpoints this node comes to hold (cluster).
   */
  override start(endpointIds: readonly string[]): void {
    this.startSupervisor();
    this.fanout = this.system.spawn(
      eventFanout({
        ...this.fanoutDeps,
        outbox: {
          take: (limit) => {
            this.kicked = false;
            return this.fanoutDeps.outbox.take(limit);
          },
          remove: (rows) => this.fanoutDeps.outbox.remove(rows),
        },
        enqueue: (id, deliveries) => this.enqueue(id, deliveries),
      }),
      { parent: this.parent, name: "fanout", restart: "permanent" },
    );
    if (this.opsFanoutDeps) {
      this.opsFanout = this.system.spawn(
        opsEventFanout({ ...this.opsFanoutDeps, enqueue: (id, deliveries) => this.enqueue(id, deliveries) }),
        { parent: this.parent, name: "ops-fanout", restart: "permanent" },
      );
    }
    this.startTargets(endpointIds);
  }

  /** Wakes the ops fan-out (a run's journal committed an event). */
  kickOps(): void {
    this.opsFanout?.tell({ type: "drain" });
  }

  /** Wakes the fan-out (a commit wrote outbox rows); kicks while one is queued are one. */
  kick(): void {
    if (this.kicked || this.fanout === undefined) return;
    this.kicked = true;
    this.fanout.tell({ type: "drain" });
  }

  /** Stops the fan-out and every endpoint actor. */
  override async stop(): Promise<void> {
    this.fanout = undefined;
    this.opsFanout = undefined;
    await super.stop();
  }
}
