/**
 * LeaseKeeper: which of a feature's delivery actors (webhook endpoints, integrations) run on this
 * node while several server processes share one PostgreSQL database. Each actor runs only on the
 * node holding its lease (runtime/store/leases.ts), so exactly one node sends a given endpoint's
 * deliveries at a time:
 *
 * - every {@link LeaseKeeperOptions.ttlMs}/3 the node renews the leases it holds (one statement)
 *   and its presence (a row of its own, as long-lived as a lease: the nodes taking part are those
 *   whose presence has not expired), and claims free leases up to its share (the resources over
 *   the nodes present, rounded up); a lease expired for longer than a whole lease is taken whatever
 *   the share. A dead node's presence and leases expire together: the others take its endpoints
 *   over within about a lease and a renewal;
 * - a node holding more than its share while another holds less (a node joined, or came back)
 *   gives up the surplus: it stops sending them (fenced), waits for the attempts in flight to be
 *   written, stops their actors and releases the leases, which the other node then claims;
 * - a lease the renewal did not return is lost: its actor is stopped at once;
 * - fenced: {@link holds} answers from this process's monotonic clock, true only until two thirds
 *   of a lease after the start of the last renewal that kept it. The actors ask it before each
 *   send, so a node that cannot renew (paused, cut off from the database) stops sending a third of
 *   a lease before any other node may take its leases over.
 * - at a graceful stop the node releases its leases, so the others take them over at once.
 *
 * Time: renewals run on the actor system's timers; validity on `performance.now()` (a paused
 * process's monotonic clock keeps running, so it wakes up fenced); expiry on the database's clock.
 *
 * @example
 * const keeper = new LeaseKeeper({ kind: "webhook", nodeId, leases, ttlMs: 15_000,
 *   resources: () => store.endpointIds(), acquired: (id) => spawn(id), lost: (id) => stop(id), log });
 * system.spawn(keeper.behavior(), { parent, name: "leases", restart: "permanent" });
 * if (keeper.holds("wh_1")) send();
 */
import type { Behavior } from "../../runtime/actor/index.ts";
import type { Logger } from "../../runtime/log.ts";
import { metrics } from "../../runtime/metrics.ts";
import type { LeaseKind, LeaseRepository, LeaseView } from "../../runtime/store/leases.ts";

/** How often {@link LeaseKeeperOptions.poll} runs: what another node stored for ours is found this soon. */
export const LEASE_POLL_MS = 1000;

export interface LeaseKeeperOptions {
  kind: LeaseKind;
  nodeId: string;
  leases: Pick<LeaseRepository, "renew" | "present" | "list" | "claim" | "release">;
  /** How long a lease lasts unrenewed. */
  ttlMs: number;
  /** Every resource some node should hold (every endpoint's id). */
  resources(): Promise<string[]>;
  /** This node took the lease of `id`: start its actor. */
  acquired(id: string): void;
  /** This node no longer holds `id`: stop its actor (no send of it may start from now on). */
  lost(id: string): void | Promise<void>;
  /** Every {@link LEASE_POLL_MS}, with the resources held: find what other nodes stored for them. */
  poll?(held: readonly string[]): Promise<void>;
  /**
   * Resolves once `id`'s actor has no attempt in flight (its outcome written), for a lease given
   * up to another node; nothing new starts meanwhile ({@link LeaseKeeper.holds} is false).
   */
  drain?(id: string): Promise<void>;
  log: Logger;
  /** Monotonic milliseconds; default performance.now. */
  monotonic?: () => number;
}

export type LeaseKeeperMsg = { type: "renew" } | { type: "poll" };

interface Held {
  epoch: number;
  /** Monotonic ms until which sends may start. */
  validUntil: number;
}

export class LeaseKeeper {
  private readonly held = new Map<string, Held>();
  /** Leases being given up: fenced here, released once their actors are drained. */
  private readonly shedding = new Set<string>();
  private readonly monotonic: () => number;
  private stopped = false;

  constructor(private readonly options: LeaseKeeperOptions) {
    this.monotonic = options.monotonic ?? (() => performance.now());
  }

  /** Whether a send for `id` may start now: its lease is held and was renewed recently enough. */
  holds(id: string): boolean {
    const lease = this.held.get(id);
    return lease !== undefined && lease.validUntil > this.monotonic() && !this.shedding.has(id);
  }

  /** The resources whose leases this node holds (renewed or not yet known lost). */
  heldIds(): string[] {
    return [...this.held.keys()];
  }

  /** The fencing token of a held lease. */
  epochOf(id: string): number | undefined {
    return this.held.get(id)?.epoch;
  }

  /**
   * Renews the leases held, drops the lost ones, claims free ones up to this node's share.
   * Never rejects: a database that does not answer leaves the leases to lapse here (fenced).
   */
  async renew(): Promise<void> {
    if (this.stopped) return;
    const { kind, nodeId, ttlMs, leases, log } = this.options;
    const started = this.monotonic();
    const validUntil = started + (ttlMs * 2) / 3;
    try {
      const renewed = new Map((await leases.renew(kind, nodeId, ttlMs)).map((l) => [l.resourceId, l.epoch]));
      for (const [id, lease] of this.held) {
        const epoch = renewed.get(id);
        if (epoch === lease.epoch) lease.validUntil = validUntil;
        else await this.lose(id, "its lease expired before it was renewed");
      }
      const resources = await this.options.resources();
      const wanted = new Set(resources);
      // Held for a resource that no longer exists (deleted on another node): let it go.
      const gone = [...this.held.keys()].filter((id) => !wanted.has(id));
      for (const id of gone) await this.lose(id, "it no longer exists");
      if (gone.length > 0) await leases.release(kind, nodeId, gone);
      const [all, present] = await Promise.all([leases.list(kind, ttlMs), leases.present(kind, nodeId, ttlMs)]);
      const share = Math.ceil(resources.length / Math.max(1, present.length));
      const byId = new Map(all.map((l) => [l.resourceId, l]));
      const abandoned: string[] = [];
      const free: string[] = [];
      for (const id of resources) {
        if (this.held.has(id)) continue;
        const lease = byId.get(id);
        if (lease === undefined || (lease.expired && !lease.abandoned)) free.push(id);
        else if (lease.abandoned) abandoned.push(id);
      }
      // Nodes claiming at once start from different places of the free list.
      const offset = free.length === 0 ? 0 : Math.floor(Math.random() * free.length);
      const room = Math.max(0, share - this.held.size - abandoned.length);
      const pick = [...abandoned, ...[...free.slice(offset), ...free.slice(0, offset)].slice(0, room)];
      if (pick.length > 0 && !this.stopped) {
        const taken = await leases.claim(kind, nodeId, pick, ttlMs);
        for (const t of taken) {
          this.held.set(t.resourceId, { epoch: t.epoch, validUntil });
          this.options.acquired(t.resourceId);
        }
        if (taken.length > 0) {
          log.info(
            { kind, taken: taken.length, held: this.held.size, share },
            `took ${taken.length} ${kind} delivery leases; ${this.held.size} held on this node`,
          );
        }
      }
      this.shedSurplus(all, present, share);
    } catch (err) {
      log.warn({ err, kind }, "could not renew or claim delivery leases; those not renewed in time stop sending");
    }
    metrics.deliveryLeasesHeld.set({ kind, node: nodeId }, this.held.size);
  }

  /**
   * Gives up what this node holds beyond its share, as much as the nodes present holding less
   * than theirs lack; in the background (the renewals go on meanwhile).
   */
  private shedSurplus(all: readonly LeaseView[], present: readonly string[], share: number): void {
    const surplus = this.held.size - this.shedding.size - share;
    if (surplus <= 0) return;
    const counts = new Map(present.map((n) => [n, 0]));
    for (const l of all) if (!l.expired && counts.has(l.nodeId)) counts.set(l.nodeId, (counts.get(l.nodeId) ?? 0) + 1);
    let lacking = 0;
    for (const [node, n] of counts) if (node !== this.options.nodeId) lacking += Math.max(0, share - n);
    const give = [...this.held.keys()].filter((id) => !this.shedding.has(id)).slice(0, Math.min(surplus, lacking));
    for (const id of give) {
      this.shedding.add(id);
      void this.shed(id);
    }
  }

  private async shed(id: string): Promise<void> {
    const { kind, nodeId, ttlMs, leases, log } = this.options;
    try {
      // Bounded: an attempt stuck longer is sent again by the next holder (at least once).
      await Promise.race([this.options.drain?.(id), Bun.sleep(ttlMs)]);
      if (!this.held.has(id) || this.stopped) return;
      this.held.delete(id);
      await this.options.lost(id);
      await leases.release(kind, nodeId, [id]);
      log.info({ kind, resource_id: id, held: this.held.size }, "delivery lease given up to a node holding less");
    } catch (err) {
      log.warn({ err, kind, resource_id: id }, "could not give a delivery lease up; it expires on its own");
    } finally {
      this.shedding.delete(id);
      metrics.deliveryLeasesHeld.set({ kind, node: nodeId }, this.held.size);
    }
  }

  /** Runs `poll` with the leases held (errors logged). */
  async poll(): Promise<void> {
    if (this.stopped || this.options.poll === undefined || this.held.size === 0) return;
    try {
      await this.options.poll(this.heldIds().filter((id) => this.holds(id)));
    } catch (err) {
      this.options.log.warn({ err, kind: this.options.kind }, "could not look for deliveries stored by other nodes");
    }
  }

  /** A resource was deleted here: its actor stops and its lease goes. */
  async forget(id: string): Promise<void> {
    if (!this.held.delete(id)) return;
    await this.options.leases.release(this.options.kind, this.options.nodeId, [id]).catch((err: unknown) => {
      this.options.log.warn({ err, resource_id: id }, "could not release a delivery lease; it expires on its own");
    });
  }

  /** Graceful stop, after the actors stopped: every lease released, for other nodes to take at once. */
  async releaseAll(): Promise<void> {
    this.stopped = true;
    this.held.clear();
    metrics.deliveryLeasesHeld.remove({ kind: this.options.kind, node: this.options.nodeId });
    await this.options.leases.release(this.options.kind, this.options.nodeId).catch((err: unknown) => {
      this.options.log.warn({ err }, "could not release the delivery leases; they expire on their own");
    });
  }

  private async lose(id: string, why: string): Promise<void> {
    this.held.delete(id);
    this.options.log.warn({ kind: this.options.kind, resource_id: id }, `delivery lease lost: ${why}`);
    await this.options.lost(id);
  }

  /**
   * The keeper's actor: renews at once and every third of a lease, polls every
   * {@link LEASE_POLL_MS}; `renew` told out of turn (a new endpoint) claims at once.
   *
   * @example system.spawn(keeper.behavior(), { parent, name: "leases", restart: "permanent" })
   */
  behavior(): Behavior<LeaseKeeperMsg, undefined> {
    return {
      kind: "delivery_lease_keeper",
      preStart: (_state, ctx) => {
        ctx.timers.startRepeating("renew", { type: "renew" }, this.options.ttlMs / 3);
        ctx.timers.startRepeating("poll", { type: "poll" }, LEASE_POLL_MS);
        ctx.self.tell({ type: "renew" });
        return undefined;
      },
      receive: async (_state, msg) => {
        if (msg.type === "renew") await this.renew();
        else await this.poll();
        return undefined;
      },
    };
  }
}
