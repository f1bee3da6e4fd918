/**
 * One row of a benchmark's report: its figure, the floor measured in the same run and their
 * ratio, the goal, and whether it was met. Every bench/*.ts prints these (a table, or `--json`).
 *
 * @example
 * const row: BenchResult = { name: "flood", value: 44e6, unit: "msgs/s", floor: 156e6, ratio: 0.28, goal: ">=10M/s", pass: true };
 */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  floor?: number;
  ratio?: number;
  goal?: string;
  pass?: boolean;
}

/**
 * Prints `results` as a table (name, value, unit, floor, ratio, goal, PASS/MISS), or as one JSON
 * object when `json` is set.
 *
 * @example printResults(results, process.argv.includes("--json"));
 */
export function printResults(results: readonly BenchResult[], json: boolean): void {
  if (json) {
    console.log(JSON.stringify({ bun: Bun.version, results }));
    return;
  }
  const fmt = (n: number | undefined) => (n === undefined ? "" : n.toLocaleString("en", { maximumFractionDigits: 2 }));
  console.log(
    `${"name".padEnd(26)} ${"value".padStart(10)} ${"unit".padEnd(9)} ${"floor".padStart(10)} ${"ratio".padStart(7)}  goal`,
  );
  for (const r of results) {
    const verdict = r.pass === undefined ? "" : r.pass ? "PASS" : "MISS";
    console.log(
      `${r.name.padEnd(26)} ${fmt(r.value).padStart(10)} ${r.unit.padEnd(9)} ${fmt(r.floor).padStart(10)} ${(r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}x`).padStart(7)}  ${r.goal ?? ""} ${verdict}`,
    );
  }
}
