/**
 * A string-keyed map that also knows its least recently touched entry, for the bounded per-key
 * state of the rate limiter and the login backoff. Recency is a doubly linked list beside the
 * Map, so touching an entry moves two pointers. Re-inserting into the Map to keep it in recency
 * order would be simpler, but every delete leaves a hole at the Map's front that its iterator
 * walks over, which made finding the oldest entry cost microseconds under churn.
 */

interface Node<V> {
  key: string;
  value: V;
  older: Node<V> | undefined;
  newer: Node<V> | undefined;
}

/**
 * Entries ordered by last {@link set} or {@link touch}, oldest first.
 *
 * @example
 * const m = new LruMap<number>();
 * m.set("a", 1); m.set("b", 2); m.touch("a");
 * m.oldest(); // ["b", 2]
 */
export class LruMap<V> {
  private readonly nodes = new Map<string, Node<V>>();
  private oldestNode: Node<V> | undefined;
  private newestNode: Node<V> | undefined;

  /** @example m.size // 2 */
  get size(): number {
    return this.nodes.size;
  }

  /** The value for `key`, without changing its recency. @example m.get("a") // 1 */
  get(key: string): V | undefined {
    return this.nodes.get(key)?.value;
  }

  /** Sets `key` and makes it the newest entry. @example m.set("a", 3); */
  set(key: string, value: V): void {
    const node = this.nodes.get(key);
    if (node !== undefined) {
      node.value = value;
      this.moveToNewest(node);
      return;
    }
    const added: Node<V> = { key, value, older: this.newestNode, newer: undefined };
    if (this.newestNode !== undefined) this.newestNode.newer = added;
    this.newestNode = added;
    this.oldestNode ??= added;
    this.nodes.set(key, added);
  }

  /** Makes `key`, if present, the newest entry. @example m.touch("a"); */
  touch(key: string): void {
    const node = this.nodes.get(key);
    if (node !== undefined) this.moveToNewest(node);
  }

  /** Removes `key`. @example m.delete("a"); */
  delete(key: string): boolean {
    const node = this.nodes.get(key);
    if (node === undefined) return false;
    this.unlink(node);
    this.nodes.delete(key);
    return true;
  }

  /** The least recently set or touched entry. @example const [key, value] = m.oldest() ?? []; */
  oldest(): [string, V] | undefined {
    const node = this.oldestNode;
    return node === undefined ? undefined : [node.key, node.value];
  }

  /** Every entry, oldest first. @example for (const [key, value] of m.entries()) {} */
  *entries(): Generator<[string, V]> {
    for (let node = this.oldestNode; node !== undefined; node = node.newer) yield [node.key, node.value];
  }

  private unlink(node: Node<V>): void {
    if (node.older === undefined) this.oldestNode = node.newer;
    else node.older.newer = node.newer;
    if (node.newer === undefined) this.newestNode = node.older;
    else node.newer.older = node.older;
    node.older = undefined;
    node.newer = undefined;
  }

  private moveToNewest(node: Node<V>): void {
    if (node === this.newestNode) return;
    this.unlink(node);
    node.older = this.newestNode;
    if (this.newestNode !== undefined) this.newestNode.newer = node;
    this.newestNode = node;
    this.oldestNode ??= node;
  }
}
