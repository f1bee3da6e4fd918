/**
 * Timing single synchronous calls for the benchmarks that report a percentile.
 *
 * @example const us = p99Micros(() => policy.can(["member"], "debates.read"));
 */

/** The 99th percentile of `samples` single calls of `fn`, in microseconds, timer overhead included (after a warm-up). */
export function p99Micros(fn: () => unknown, samples = 200_000): number {
  for (let i = 0; i < 10_000; i++) fn();
  const times = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const t = Bun.nanoseconds();
    fn();
    times[i] = Bun.nanoseconds() - t;
  }
  times.sort();
  return (times[Math.floor(samples * 0.99)] as number) / 1000;
}
