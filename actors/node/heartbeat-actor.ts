/**
 * NodeHeartbeatActor: keeps this server's row in `nodes` fresh so other processes (`ops`,
 * other cluster nodes) can tell a live node from one that crashed without marking itself stopped,
 * and reports the node's encryption key ids with each beat (the key rotation waits for every live
 * node to report the new key first). A `beat` told out of turn (after a key reload) writes at
 * once. A failed write crashes the actor; its supervisor restarts it, and the next tick tries again.
 *
 * @example
 * const ref = system.spawn(nodeHeartbeat({ nodes: store.nodes, nodeId, intervalMs: 15_000, keyIds }), { name: "node-heartbeat" });
 * keys.onReload(() => ref.tell({ type: "beat" }));
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
  /** The node's encryption key ids of the moment, the active one first ([]: none); absent: not reported. */
  keyIds?: () => readonly string[];
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
        await options.nodes.heartbeat(options.nodeId, now(), options.keyIds?.());
      } catch (err) {
        options.health?.failed("nodes", err);
        throw err;
      }
      options.health?.succeeded("nodes");
      return beats + 1;
    },
  };
}
