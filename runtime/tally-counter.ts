/**
 * A prom-client Counter whose hot label sets count into plain numbers: `tally(labels)` gives an
 * object whose `n` the caller increments (a property write, where a prom-client child's `inc()`
 * costs ~0.2 us: it re-validates the value and walks the label hash on every call), and the counts
 * are added to the counter when it is collected (every scrape), so the exposition is prom-client's own.
 * Label sets used rarely can still go through `inc()` directly; both are exported together.
 *
 * @example
 * const checks = new TallyCounter({ name: "aragora_x_total", help: "x", labelNames: ["result"], registers: [registry] });
 * const granted = checks.tally({ result: "granted" });
 * granted.n++; // on the hot path
 * await registry.metrics(); // aragora_x_total{result="granted"} 1
 */
import type { CounterConfiguration, LabelValues } from "prom-client";
// The class from its own module, not prom-client's index (see prom-client-collectors.d.ts).
import Counter from "prom-client/lib/counter.js";

/** One label set's count since the last scrape. */
export interface Tally {
  n: number;
}

export class TallyCounter<T extends string> extends Counter<T> {
  private readonly tallies: { labels: LabelValues<T>; tally: Tally }[] = [];

  constructor(config: CounterConfiguration<T>) {
    super({
      ...config,
      // Called by prom-client with the counter as `this` before each scrape.
      collect(this: Counter<T>) {
        (this as TallyCounter<T>).flush();
      },
    });
  }

  /**
   * The tally of one label set (the same object for the same labels).
   *
   * @example const denied = counter.tally({ permission: "debates.read", result: "denied" });
   */
  tally(labels: LabelValues<T>): Tally {
    const key = JSON.stringify(labels);
    const found = this.tallies.find((t) => JSON.stringify(t.labels) === key);
    if (found) return found.tally;
    const tally = { n: 0 };
    this.tallies.push({ labels, tally });
    // The series is exported at 0 from the start, as a prom-client child would be once used.
    this.inc(labels, 0);
    return tally;
  }

  /** Move the tallies' counts into the counter (before each scrape). */
  flush(): void {
    for (const { labels, tally } of this.tallies) {
      if (tally.n === 0) continue;
      this.inc(labels, tally.n);
      tally.n = 0;
    }
  }

  /** Drop the counts and the tallies' pending counts alike. */
  override reset(): void {
    super.reset();
    for (const { tally } of this.tallies ?? []) tally.n = 0;
  }
}
