/**
 * Agreement per round as a uPlot line chart (0..1), with the same figures in a table for screen
 * readers and anyone who prefers numbers. uPlot is imported here, so it ships in the debate page's
 * chunk only.
 *
 * @example <AgreementChart points={[{ round: 0, agreement: 0.67 }, { round: 1, agreement: 1 }]} />
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface AgreementPoint {
  round: number;
  agreement: number;
}

const HEIGHT = 180;

function cssVar(el: Element, name: string, fallback: string): string {
  return getComputedStyle(el).getPropertyValue(name).trim() || fallback;
}

export function AgreementChart({ points }: { points: AgreementPoint[] }) {
  const box = useRef<HTMLDivElement | null>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const text = cssVar(el, "--text", "#222");
    const accent = cssVar(el, "--accent", "#2563eb");
    const grid = cssVar(el, "--border", "#ccc");
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const made = new uPlot(
      {
        width: Math.max(200, el.clientWidth),
        height: HEIGHT,
        legend: { show: false },
        cursor: { show: false },
        scales: { x: { time: false }, y: { range: [0, 1] } },
        axes: [
          { ...axis, label: "round", incrs: [1], values: (_u, ticks) => ticks.map((t) => String(t)) },
          { ...axis, label: "agreement", values: (_u, ticks) => ticks.map((t) => `${Math.round(t * 100)}%`) },
        ],
        series: [{}, { label: "agreement", stroke: accent, width: 2, points: { show: true, size: 7, fill: accent } }],
      },
      [[], []],
      el,
    );
    plot.current = made;
    const resize = new ResizeObserver(() => made.setSize({ width: Math.max(200, el.clientWidth), height: HEIGHT }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      made.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData([points.map((p) => p.round), points.map((p) => p.agreement)]);
  }, [points]);

  return (
    <figure class="agreement">
      <div ref={box} class="agreement-plot" aria-hidden="true" />
      <figcaption>
        <table class="agreement-table">
          <caption>Agreement per round: the share of agents holding the most common answer</caption>
          <thead>
            <tr>
              <th scope="col">Round</th>
              <th scope="col">Agreement</th>
            </tr>
          </thead>
          <tbody>
            {points.map((p) => (
              <tr key={p.round}>
                <td>{p.round}</td>
                <td>{Math.round(p.agreement * 100)}%</td>
              </tr>
            ))}
          </tbody>
        </table>
      </figcaption>
    </figure>
  );
}
