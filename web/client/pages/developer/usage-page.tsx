/**
 * Usage and cost over time: GET /api/billing/usage for the last 7, 30, 90 or 365 days, drawn as
 * daily charts (cost; input and output tokens) with the totals, the month's cost against its cap,
 * and the same figures per day and per agent in tables. Reading billing needs `billing.read`.
 */
import { useMemo, useState } from "preact/hooks";
import { me } from "../../session.ts";
import { Loading, messageOf, Notice, TableRegion, useApi } from "../../ui.tsx";
import { DeveloperNav, NotGranted, Select } from "./developer-nav.tsx";
import { type ChartSeries, UsageChart } from "./usage-chart.tsx";
import { dailySeries, daysAgo, type UsageDay } from "./usage-series.ts";

interface Totals {
  debates: number;
  input_tokens: number;
  output_tokens: number;
  tokens: number;
  cost_usd: number;
  estimated: boolean;
}

interface UsageReport {
  from: string;
  to: string;
  totals: Totals & { running: number };
  by_day: UsageDay[];
  by_agent: (Totals & { agent: string; turns: number })[];
  cap: { month: string; month_cost_usd: number; monthly_cost_cap_usd: number | null };
}

type Range = "7" | "30" | "90" | "365";
const RANGES: { value: Range; label: string }[] = [
  { value: "7", label: "Last 7 days" },
  { value: "30", label: "Last 30 days" },
  { value: "90", label: "Last 90 days" },
  { value: "365", label: "Last 365 days" },
];

const usd = (n: number) => `$${n < 1 ? n.toFixed(4) : n.toFixed(2)}`;
const count = new Intl.NumberFormat();
const tokens = (n: number) => count.format(Math.round(n));

function Report({ report }: { report: UsageReport }) {
  const days = useMemo(() => dailySeries(report.from, report.to, report.by_day), [report]);
  const cost = useMemo<ChartSeries[]>(
    () => [{ label: "Cost (USD)", values: days.cost, color: "--accent", format: usd }],
    [days],
  );
  const tokenSeries = useMemo<ChartSeries[]>(
    () => [
      { label: "Input tokens", values: days.input, color: "--accent", format: tokens },
      { label: "Output tokens", values: days.output, color: "--focus", format: tokens },
    ],
    [days],
  );
  const { totals, cap } = report;
  return (
    <>
      <dl class="figures">
        <div>
          <dt>Cost</dt>
          <dd>
            {usd(totals.cost_usd)}
            {totals.estimated && <span class="muted"> (estimated)</span>}
          </dd>
        </div>
        <div>
          <dt>Tokens</dt>
          <dd>{tokens(totals.tokens)}</dd>
        </div>
        <div>
          <dt>Debates</dt>
          <dd>
            {count.format(totals.debates)}
            {totals.running > 0 && <span class="muted"> ({totals.running} running)</span>}
          </dd>
        </div>
        <div>
          <dt>This month ({cap.month})</dt>
          <dd>
            {usd(cap.month_cost_usd)}
            <span class="muted">
              {cap.monthly_cost_cap_usd === null ? " · no cap" : ` of ${usd(cap.monthly_cost_cap_usd)}`}
            </span>
          </dd>
        </div>
      </dl>
      <h2>Cost per day</h2>
      <UsageChart label={`Cost per day from ${report.from} to ${report.to}`} x={days.x} series={cost} />
      <h2>Tokens per day</h2>
      <UsageChart
        label={`Input and output tokens per day from ${report.from} to ${report.to}`}
        x={days.x}
        series={tokenSeries}
      />
      <h2>Per agent</h2>
      {report.by_agent.length === 0 ? (
        <p>No debates in this period.</p>
      ) : (
        <TableRegion label="Usage per agent">
          <table>
            <caption class="visually-hidden">Usage per agent</caption>
            <thead>
              <tr>
                <th scope="col">Agent</th>
                <th scope="col">Debates</th>
                <th scope="col">Turns</th>
                <th scope="col">Tokens</th>
                <th scope="col">Cost</th>
              </tr>
            </thead>
            <tbody>
              {report.by_agent.map((a) => (
                <tr key={a.agent}>
                  <td>{a.agent}</td>
                  <td>{count.format(a.debates)}</td>
                  <td>{count.format(a.turns)}</td>
                  <td>{tokens(a.tokens)}</td>
                  <td>
                    {usd(a.cost_usd)}
                    {a.estimated && <span class="muted"> (estimated)</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      )}
      <details>
        <summary>The figures per day</summary>
        <TableRegion label="Usage per day">
          <table>
            <caption class="visually-hidden">Usage per day</caption>
            <thead>
              <tr>
                <th scope="col">Day (UTC)</th>
                <th scope="col">Debates</th>
                <th scope="col">Input tokens</th>
                <th scope="col">Output tokens</th>
                <th scope="col">Cost</th>
              </tr>
            </thead>
            <tbody>
              {report.by_day.map((d) => (
                <tr key={d.date}>
                  <td>{d.date}</td>
                  <td>{count.format(d.debates)}</td>
                  <td>{tokens(d.input_tokens)}</td>
                  <td>{tokens(d.output_tokens)}</td>
                  <td>{usd(d.cost_usd)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      </details>
    </>
  );
}

function Usage() {
  const [range, setRange] = useState<Range>("30");
  const from = daysAgo(Number(range) - 1);
  const to = daysAgo(0);
  const usage = useApi<UsageReport>(`/api/billing/usage?from=${from}&to=${to}`);
  return (
    <>
      <div class="form-grid">
        <Select label="Period" value={range} onChange={setRange} options={RANGES} />
      </div>
      {usage.loading && !usage.data && <Loading />}
      {usage.error && <Notice kind="error">{messageOf(usage.error)}</Notice>}
      {usage.data && <Report report={usage.data} />}
    </>
  );
}

export default function UsagePage() {
  const canRead = me.value?.permissions.includes("billing.read") ?? false;
  return (
    <section class="developer">
      <h1>Usage and cost</h1>
      <DeveloperNav />
      {canRead ? <Usage /> : <NotGranted what="read the organisation's usage and cost" permission="billing.read" />}
    </section>
  );
}
