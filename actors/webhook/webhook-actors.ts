/**
 * The webhooks feature's part of the supervision tree: `/system/webhooks`, a one-for-one supervisor
 * with the fan-out (`fanout`, ./event-fanout.ts), the ops runs' fan-out when the server runs
 * playbooks (`ops-fanout`, ./ops-event-fanout.ts) and one WebhookEndpointActor per endpoint (named
 * by its id, ./endpoint-actor.ts). The routes reach the actors through it: a new endpoint gets its
 * actor, an edited one re-reads its row, a removed one is stopped, new deliveries are handed over.
 *
 * @example
 * const actors = new WebhookActors(system, endpointDeps, fanoutDeps);
 * actors.start(await store.endpointIds());
 * actors.enqueue("wh-1", [queued(row)]);
 */
import { type ActorRef, type ActorSystem, supervisor } from "../../runtime/actor/index.ts";
import {
  type EndpointActorDeps,
  type EndpointMsg,
  type EndpointStatus,
  type QueuedDelivery,
  webhookEndpointActor,
} from "./endpoint-actor.ts";
import { eventFanout, type FanoutDeps, type FanoutMsg } from "./event-fanout.ts";
import { type OpsFanoutDeps, opsEventFanout } from "./ops-event-fanout.ts";

export class WebhookActors {
  private parent: ActorRef<never> | undefined;
  private fanout: ActorRef<FanoutMsg> | undefined;
  private opsFanout: ActorRef<FanoutMsg> | undefined;
  private readonly endpoints = new Map<string, ActorRef<EndpointMsg>>();
  /** A drain is queued and has not started: further kicks add nothing. */
  private kicked = false;

  constructor(
    private readonly system: ActorSystem,
    private readonly endpointDeps: EndpointActorDeps,
    private readonly fanoutDeps: Omit<FanoutDeps, "enqueue">,
    /** The ops runs' events (absent: no ops fan-out). */
    private readonly opsFanoutDeps?: Omit<OpsFanoutDeps, "enqueue">,
  ) {}

  /** Starts the supervisor, the fan-out, and an actor for each of `endpointIds`. */
  start(endpointIds: readonly string[]): void {
    this.parent = this.system.spawn(supervisor(), {
      name: "webhooks",
      // Many endpoints: one receiver's trouble must not stop every endpoint.
      supervisor: { strategy: "one_for_one", maxRestarts: 100, periodMs: 60_000 },
    });
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
    for (const id of endpointIds) this.spawn(id);
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

  /** Starts the actor of a new endpoint. */
  spawn(endpointId: string): void {
    if (this.parent === undefined || this.endpoints.get(endpointId)?.alive) return;
    const ref = this.system.spawn(webhookEndpointActor(this.endpointDeps, endpointId), {
      parent: this.parent,
      name: endpointId,
      restart: "transient",
      kind: "webhook_endpoint",
    });
    this.endpoints.set(endpointId, ref);
  }

  /** The endpoint's row changed: its actor reads it again (and sends what waited, if enabled now). */
  reload(endpointId: string): void {
    this.endpoints.get(endpointId)?.tell({ type: "reload" });
  }

  /** Hands deliveries to the endpoint's actor. */
  enqueue(endpointId: string, deliveries: QueuedDelivery[]): void {
    if (deliveries.length > 0) this.endpoints.get(endpointId)?.tell({ type: "enqueue", deliveries });
  }

  /** The endpoint actor's report; undefined when it does not run here. */
  async status(endpointId: string): Promise<EndpointStatus | undefined> {
    const ref = this.endpoints.get(endpointId);
    if (ref === undefined || !ref.alive) return undefined;
    try {
      return await ref.ask<EndpointStatus>({ type: "status" }, { timeoutMs: 2000 });
    } catch {
      return undefined;
    }
  }

  /** Stops a removed endpoint's actor. */
  async remove(endpointId: string): Promise<void> {
    const ref = this.endpoints.get(endpointId);
    this.endpoints.delete(endpointId);
    if (ref?.alive) await this.system.stop(ref as ActorRef<never>);
  }

  /** Stops the fan-out and every endpoint actor. */
  async stop(): Promise<void> {
    const parent = this.parent;
    this.parent = undefined;
    this.fanout = undefined;
    this.opsFanout = undefined;
    this.endpoints.clear();
    if (parent?.alive) await this.system.stop(parent);
  }
}
