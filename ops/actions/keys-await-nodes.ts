/**
 * `keys.await_nodes`: waits until every live node (every server on the store, from the key ids it
 * reports in its heartbeat) encrypts with `active` and holds none of `absent`, and the process
 * running the step too. The key rotation re-encrypts only then, so no node meanwhile seals a
 * record with the old key or fails to read one the new key sealed; and it declares an old key
 * gone only once no node holds it. The step's timeout bounds the wait; progress names the nodes
 * still waited for.
 *
 * A node that stopped without saying so (kill -9) stops counting once its last heartbeat is older
 * than three heartbeat intervals.
 *
 * @example
 * - id: nodes
 *   action: keys.await_nodes
 *   with: { active: "${{ steps.add.outputs.key_id }}" }
 *   timeout: 30m
 */
import { type } from "arktype";
import { openStore } from "../../runtime/store/index.ts";
import { type LiveNodeKeys, liveNodeKeys } from "../../runtime/store/node-keys.ts";
import { lazy } from "../../schemas/lazy.ts";
import type { ActionDefinition } from "../action.ts";
import { Duration } from "../duration.ts";
import { requireActiveKey, rotationRing } from "./key-rotation.ts";
import { abortableSleep } from "./sleep.ts";

const KeyId = lazy(() => type(/^k[0-9a-f]{12}$/).describe("a key id (k and 12 hex characters)"));
const Input = lazy(() => type({ "+": "reject", active: KeyId, "absent?": KeyId.array(), "poll?": Duration }));
type Input = typeof Input.infer;

/** Why a node is not ready, or null when it is. */
function notReady(node: LiveNodeKeys, input: Input): string | null {
  const name = `${node.hostname}:${node.apiPort} (node ${node.nodeId}, pid ${node.pid})`;
  if (node.keyIds === null) return `${name} does not report its keys (a version before key reporting?)`;
  if (node.activeKeyId !== input.active) return `${name} encrypts with ${node.activeKeyId ?? "no key"}`;
  const kept = (input.absent ?? []).filter((id) => node.keyIds?.includes(id));
  return kept.length > 0 ? `${name} still holds ${kept.join(", ")}` : null;
}

export const keysAwaitNodes: ActionDefinition<Input, Record<string, unknown>> = {
  name: "keys.await_nodes",
  description: "wait until every live node encrypts with the given key (and holds none of the absent ones)",
  input: Input,
  outputs: ["nodes", "node_ids"],
  idempotent: true,
  async plan(input) {
    const absent = input.absent?.length ? ` and no longer holds ${input.absent.join(", ")}` : "";
    return { summary: `wait until every live node encrypts with ${input.active}${absent}`, changes: [] };
  },
  async run(input, ctx) {
    const ring = requireActiveKey(ctx, input.active);
    const kept = (input.absent ?? []).filter((id) => ring.byId.has(id));
    if (kept.length > 0) {
      if (ctx.keySource.status().reloadable) ctx.keySource.reload("request");
      const still = (input.absent ?? []).filter((id) => rotationRing(ctx)?.byId.has(id));
      if (still.length > 0) throw new Error(`this process still holds ${still.join(", ")}`);
    }
    const store = await openStore({ ...ctx.config, dataDir: ctx.dataDir }, ctx.log, { readOnly: true });
    try {
      let said = "";
      for (;;) {
        const nodes = await liveNodeKeys(store.nodes);
        const waiting = nodes.flatMap((n) => notReady(n, input) ?? []);
        if (waiting.length === 0) {
          ctx.progress(`${nodes.length} live node${nodes.length === 1 ? "" : "s"} ready`, 1);
          return { nodes: nodes.length, node_ids: nodes.map((n) => n.nodeId) };
        }
        const line = `waiting for ${waiting.length} of ${nodes.length} nodes: ${waiting.join("; ")}`;
        if (line !== said) ctx.progress(line);
        said = line;
        await abortableSleep(input.poll ?? 1000, ctx.signal);
      }
    } finally {
      await store.close();
    }
  },
};
