/**
 * A daily chart drawn by uPlot: days along x, one line per series, coloured from the theme's
 * custom properties (redrawn when the theme changes) and as wide as its container. The canvas is
 * described for screen readers by `label`; the page shows the same figures in a table.
 *
 * @example
 * <UsageChart label="Cost per day" x={series.x} series={[{ label: "Cost (USD)", values: series.cost, color: "--accent" }]} />
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { theme } from "../../theme.ts";

export interface ChartSeries {
  label: string;
  values: number[];
  /** A custom property of styles.css (`--accent`) whose colour draws the line. */
  color: string;
  /** How the legend and the axis write a value. */
  format?: (n: number) => string;
}

const HEIGHT = 240;

export function UsageChart({ label, x, series }: { label: string; x: number[]; series: ChartSeries[] }) {
  const box = useRef<HTMLDivElement>(null);
  const dark = theme.value === "dark";
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const css = getComputedStyle(document.documentElement);
    const colour = (name: string) => css.getPropertyValue(name).trim() || "#888";
    const axis = { stroke: colour("--text"), grid: { stroke: colour("--border"), width: 1 }, ticks: { show: false } };
    const format = series[0]?.format ?? ((n: number) => String(n));
    const plot = new uPlot(
      {
        width: Math.max(280, el.clientWidth),
        height: HEIGHT,
        // Days are UTC days (the report's): ticks fall on UTC midnights whatever the browser's zone.
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        axes: [
          { ...axis, values: (_u, ticks) => ticks.map((t) => new Date(t * 1000).toISOString().slice(5, 10)) },
          { ...axis, size: 70, values: (_u, ticks) => ticks.map(format) },
        ],
        series: [
          { label: "Day", value: (_u, t) => (t == null ? "—" : new Date(t * 1000).toISOString().slice(0, 10)) },
          ...series.map((s) => ({
            label: s.label,
            stroke: colour(s.color),
            width: 2,
            points: { show: x.length <= 62 },
            value: (_u: uPlot, v: number | null) => (v == null ? "—" : (s.format ?? String)(v)),
          })),
        ],
      },
      [x, ...series.map((s) => s.values)],
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height: HEIGHT }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [x, series, dark]);
  return <div class="chart" ref={box} role="img" aria-label={label} />;
}
