/**
 * NodeHeartbeatActor: keeps this server's row in `nodes` fresh so other processes (`ops`,
 * other cluster nodes) can tell a live node from one that crashed without marking itself stopped.
 * A failed write crashes the actor; its supervisor restarts it, and the next tick tries again.
 *
 * @example
 * system.spawn(nodeHeartbeat({ nodes: store.nodes, nodeId, intervalMs: 15_000 }), { name: "node-heartbeat" });
 */
import type { Behavior } from "../../runtime/actor/index.ts";
import type { NodeRepository } from "../../runtime/store/index.ts";
import type { StoreHealth } from "../../runtime/store/store-health.ts";

export type NodeHeartbeatMsg = { type: "beat" };

export interface NodeHeartbeatOptions {
  nodes: NodeRepository;
  nodeId: string;
  intervalMs: number;
  now?: () => Date;
  /** Told whether each beat (a real write) went through, as store part `nodes`. */
  health?: StoreHealth;
}

export function nodeHeartbeat(options: NodeHeartbeatOptions): Behavior<NodeHeartbeatMsg, number> {
  const now = options.now ?? (() => new Date());
  return {
    kind: "node_heartbeat",
    init: () => 0,
    preStart(beats, ctx) {
      ctx.timers.startRepeating("beat", { type: "beat" }, options.intervalMs);
      return beats;
    },
    async receive(beats) {
      try {
        await options.nodes.heartbeat(options.nodeId, now());
      } catch (err) {
        options.health?.failed("nodes", err);
        throw err;
      }
      options.health?.succeeded("nodes");
      return beats + 1;
    },
  };
}
