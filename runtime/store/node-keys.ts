/**
 * Which encryption keys the live nodes use, from what each reports in its heartbeat (the `nodes`
 * table's `encryption_key_ids`, the active key first). The key rotation puts a new key in front
 * and then waits until every live node reports it as active before it re-encrypts anything, so no
 * node meanwhile writes with the old key a record the others cannot read, or fails to read one the
 * new key sealed.
 *
 * A node is live while it has not marked itself stopped and its last heartbeat is recent (three
 * intervals: a crashed node never marks itself stopped, and stops counting after that).
 *
 * @example
 * const nodes = await liveNodeKeys(store.nodes);
 * const ready = nodes.every((n) => n.activeKeyId === newKeyId);
 */
import type { NodeRecord, NodeRepository } from "./store.ts";

/** How often a server writes its heartbeat. */
export const NODE_HEARTBEAT_MS = 15_000;
/** A node whose last heartbeat is older than this is not counted as live. */
export const NODE_LIVE_WITHIN_MS = 3 * NODE_HEARTBEAT_MS;

/** One live node and the keys it reports. */
export interface LiveNodeKeys {
  readonly nodeId: string;
  readonly hostname: string;
  readonly pid: number;
  readonly apiPort: number;
  readonly version: string;
  readonly startedAt: Date;
  readonly heartbeatAt: Date;
  /** The key it encrypts with; null when it has none (secrets stored unencrypted) or did not report. */
  readonly activeKeyId: string | null;
  /** Its key ids, the active one first; null when the node did not report them (an older version). */
  readonly keyIds: readonly string[] | null;
}

/**
 * A node's reported key ids: the array it wrote, or null when it wrote none (or something that is
 * not a list of ids, which is treated as not reported).
 *
 * @example reportedKeyIds(row) // ["k3f9a0c12b4de", "k0c1d2e3f4a5b"]
 */
export function reportedKeyIds(row: Pick<NodeRecord, "encryptionKeyIds">): string[] | null {
  if (row.encryptionKeyIds === null) return null;
  try {
    const ids: unknown = JSON.parse(row.encryptionKeyIds);
    return Array.isArray(ids) && ids.every((id) => typeof id === "string") ? ids : null;
  } catch {
    return null;
  }
}

/**
 * The live nodes (not stopped, a heartbeat within `liveWithinMs` of `now`), newest start first,
 * each with the key ids it reports.
 *
 * @example
 * const waiting = (await liveNodeKeys(store.nodes)).filter((n) => n.activeKeyId !== newKeyId);
 */
export async function liveNodeKeys(
  nodes: Pick<NodeRepository, "list">,
  options: { now?: Date; liveWithinMs?: number } = {},
): Promise<LiveNodeKeys[]> {
  const now = options.now ?? new Date();
  const since = new Date(now.getTime() - (options.liveWithinMs ?? NODE_LIVE_WITHIN_MS));
  const rows = await nodes.list({ activeOnly: true, heartbeatSince: since });
  return rows.map((row) => {
    const keyIds = reportedKeyIds(row);
    return {
      nodeId: row.id,
      hostname: row.hostname,
      pid: row.pid,
      apiPort: row.apiPort,
      version: row.version,
      startedAt: row.startedAt,
      heartbeatAt: row.heartbeatAt,
      activeKeyId: keyIds?.[0] ?? null,
      keyIds,
    };
  });
}

/**
 * Whether every live node reports `keyId` as its active key (false when there is no live node:
 * nothing has proved it uses the key).
 *
 * @example if (await everyLiveNodeActive(store.nodes, newKeyId)) reencrypt();
 */
export async function everyLiveNodeActive(
  nodes: Pick<NodeRepository, "list">,
  keyId: string,
  options: { now?: Date; liveWithinMs?: number } = {},
): Promise<boolean> {
  const live = await liveNodeKeys(nodes, options);
  return live.length > 0 && live.every((n) => n.activeKeyId === keyId);
}
