/**
 * A growable FIFO over a power-of-two array with head/size indices: O(1) push and shift with no
 * per-item allocation, unlike Array.prototype.shift which moves every element.
 */
export class RingQueue<T> {
  private buf: (T | undefined)[];
  private head = 0;
  private mask: number;
  size = 0;

  constructor(capacity = 16) {
    let cap = 1;
    while (cap < capacity) cap <<= 1;
    this.buf = new Array(cap);
    this.mask = cap - 1;
  }

  push(item: T): void {
    if (this.size > this.mask) this.grow();
    this.buf[(this.head + this.size) & this.mask] = item;
    this.size++;
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.size--;
    return item;
  }

  private grow(): void {
    const old = this.buf;
    const cap = old.length;
    const next = new Array<T | undefined>(cap * 2);
    for (let i = 0; i < cap; i++) next[i] = old[(this.head + i) & this.mask];
    this.buf = next;
    this.head = 0;
    this.mask = cap * 2 - 1;
  }
}
