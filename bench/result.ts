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
