/**
 * An endpoint's queue of deliveries still to send, soonest due first (then by id, which is
 * time-ordered: the store's own order). The endpoint actor looks at it after every message it
 * handles, thousands of times a second under load, with thousands queued: finding the next due
 * delivery and the soonest due time is O(log n) here (a binary heap), where filtering and sorting
 * every queued delivery each time made sending quadratic in the queue's length.
 *
 * The map is the truth; the heap may hold stale entries (a delivery replaced or removed), which are
 * dropped when they reach the top, and the heap is rebuilt when stale entries outnumber live ones.
 *
 * @example
 * const q = new DueQueue<{ id: string; dueAt: number }>();
 * q.set({ id: "dlv-2", dueAt: 20 });
 * q.set({ id: "dlv-1", dueAt: 10 });
 * q.peek()?.id; // "dlv-1"
 */
export class DueQueue<T extends { readonly id: string; readonly dueAt: number }> {
  private readonly byId = new Map<string, T>();
  private heap: T[] = [];

  get size(): number {
    return this.byId.size;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Adds `item`, or replaces the queued one with its id. */
  set(item: T): void {
    this.byId.set(item.id, item);
    this.push(item);
    if (this.heap.length > 2 * this.byId.size + 64) this.rebuild();
  }

  delete(id: string): boolean {
    return this.byId.delete(id);
  }

  /** The soonest due item, left in the queue; undefined when empty. */
  peek(): T | undefined {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || this.byId.get(top.id) === top) return top;
      this.pop();
    }
  }

  values(): IterableIterator<T> {
    return this.byId.values();
  }

  private rebuild(): void {
    this.heap = [];
    for (const item of this.byId.values()) this.push(item);
  }

  private static before(a: { id: string; dueAt: number }, b: { id: string; dueAt: number }): boolean {
    return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.id < b.id);
  }

  private push(item: T): void {
    const h = this.heap;
    let i = h.length;
    h.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent] as T;
      if (!DueQueue.before(item, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = item;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const child = r < h.length && DueQueue.before(h[r] as T, h[l] as T) ? r : l;
      if (!DueQueue.before(h[child] as T, last)) break;
      h[i] = h[child] as T;
      i = child;
    }
    h[i] = last;
  }
}
