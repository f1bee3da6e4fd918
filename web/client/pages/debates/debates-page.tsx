/**
 * The organisation's debates, newest first (GET /api/debates), with the filters the API offers
 * (status, agent, started since), pages of 20 by cursor, the export of every debate matching the
 * filters (GET /api/debates/export: JSON, JSON Lines, CSV, Markdown) and, per debate, its receipt.
 * The filters live in the address bar, so a filtered list can be bookmarked and Back works.
 */
import "./history.css";
import { useEffect, useId, useState } from "preact/hooks";
import { when } from "../../format.ts";
import type { PageProps } from "../../route.ts";
import { navigate } from "../../router.ts";
import { Loading, messageOf, Notice, StatusBadge, TableRegion, useApi } from "../../ui.tsx";
import { EXPORT_FORMATS } from "./export-formats.ts";

interface DebateSummary {
  debate_id: string;
  question: string;
  status: string;
  stop_reason: string | null;
  agents: string[];
  created_at: string;
  finished_at: string | null;
  consensus: { reached?: boolean; answer?: string } | null;
}

const STATUSES = ["running", "completed", "failed", "cancelled"] as const;
const PAGE_SIZE = 20;

/** The filters of the address bar that the API knows, in the API's names. */
const FILTERS = ["status", "agent", "since"] as const;

/** The API query of the address bar's filters (and cursor), without empty values. */
function apiQuery(query: URLSearchParams, withCursor: boolean): URLSearchParams {
  const out = new URLSearchParams();
  for (const name of FILTERS) {
    const value = query.get(name);
    if (value) out.set(name, name === "since" ? sinceInstant(value) : value);
  }
  const cursor = query.get("cursor");
  if (withCursor && cursor) out.set("cursor", cursor);
  return out;
}

/** A `since` date (YYYY-MM-DD, the date input's value) as the instant the day starts here. */
function sinceInstant(date: string): string {
  const start = new Date(`${date}T00:00:00`);
  return Number.isNaN(start.getTime()) ? date : start.toISOString();
}

/** The filter form: submitting puts the filters in the address bar (first page). */
function Filters({ query }: { query: URLSearchParams }) {
  const id = useId();
  const [status, setStatus] = useState(query.get("status") ?? "");
  const [agent, setAgent] = useState(query.get("agent") ?? "");
  const [since, setSince] = useState(query.get("since") ?? "");
  // Back and Forward change the query: the form shows what the list shows.
  useEffect(() => {
    setStatus(query.get("status") ?? "");
    setAgent(query.get("agent") ?? "");
    setSince(query.get("since") ?? "");
  }, [query]);
  const submit = (e: Event) => {
    e.preventDefault();
    const next = new URLSearchParams();
    if (status) next.set("status", status);
    if (agent.trim()) next.set("agent", agent.trim());
    if (since) next.set("since", since);
    const q = next.toString();
    navigate(q ? `/debates?${q}` : "/debates");
  };
  const filtered = FILTERS.some((f) => query.get(f));
  return (
    <form class="filters" onSubmit={submit} aria-label="Filter debates">
      <div class="field">
        <label for={`${id}-status`}>Status</label>
        <select id={`${id}-status`} value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
          <option value="">Any</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for={`${id}-agent`}>Agent</label>
        <input
          id={`${id}-agent`}
          type="text"
          value={agent}
          placeholder="demo:alice"
          onInput={(e) => setAgent(e.currentTarget.value)}
        />
      </div>
      <div class="field">
        <label for={`${id}-since`}>Started on or after</label>
        <input id={`${id}-since`} type="date" value={since} onInput={(e) => setSince(e.currentTarget.value)} />
      </div>
      <div class="filter-actions">
        <button type="submit">Apply filters</button>
        {filtered && (
          <a class="button button-secondary" href="/debates">
            Clear
          </a>
        )}
      </div>
    </form>
  );
}

export default function DebatesPage({ query }: PageProps) {
  const listQuery = apiQuery(query, true);
  listQuery.set("limit", String(PAGE_SIZE));
  const list = useApi<{ debates: DebateSummary[]; next_cursor: string | null }>(`/api/debates?${listQuery}`);
  const exportQuery = apiQuery(query, false);
  const filtered = FILTERS.some((f) => query.get(f));
  const pageLink = (cursor: string | null) => {
    const q = new URLSearchParams(query);
    if (cursor) q.set("cursor", cursor);
    else q.delete("cursor");
    const s = q.toString();
    return s ? `/debates?${s}` : "/debates";
  };
  return (
    <section>
      <h1>Debates</h1>
      <p class="page-links">
        <a href="/debates/new">Start a debate</a>
        {" · "}
        <a href="/debates/leaderboard">Leaderboard</a>
        {" · "}
        <a href="/debates/verify">Verify a receipt file</a>
      </p>
      <Filters query={query} />
      <p class="downloads">
        <span>{filtered ? "Export the matching debates:" : "Export every debate:"}</span>
        {EXPORT_FORMATS.map((f) => {
          const q = new URLSearchParams(exportQuery);
          q.set("format", f.format);
          return (
            <a key={f.format} href={`/api/debates/export?${q}`} download={`debates.${f.format}`}>
              {f.label}
            </a>
          );
        })}
      </p>
      {list.loading && <Loading />}
      {list.error && <Notice kind="error">{messageOf(list.error)}</Notice>}
      {list.data && list.data.debates.length === 0 && (
        <p>
          {filtered || query.get("cursor") ? (
            "No debate matches these filters."
          ) : (
            <>
              No debates yet. <a href="/debates/new">Start one</a>, or with <code>POST /api/debates</code> (see the{" "}
              <a href="/developer/quick-start">quick start</a>).
            </>
          )}
        </p>
      )}
      {list.data && list.data.debates.length > 0 && (
        <TableRegion label="Debates">
          <table class="debates-table">
            <caption class="visually-hidden">The organisation's debates, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Question</th>
                <th scope="col">Status</th>
                <th scope="col">Agents</th>
                <th scope="col">Started</th>
                <th scope="col">Receipt</th>
              </tr>
            </thead>
            <tbody>
              {list.data.debates.map((d) => (
                <tr key={d.debate_id}>
                  <td>
                    <a href={`/debates/${encodeURIComponent(d.debate_id)}`}>{d.question}</a>
                    {d.consensus?.answer && (
                      <div class="muted decision">
                        {d.consensus.reached ? "Decided: " : "No consensus; leading: "}
                        {d.consensus.answer}
                      </div>
                    )}
                  </td>
                  <td data-label="Status">
                    <StatusBadge status={d.status} />
                  </td>
                  <td data-label="Agents">{d.agents.join(", ")}</td>
                  <td data-label="Started">{when(d.created_at)}</td>
                  <td data-label="Receipt">
                    {d.status === "running" ? (
                      <span class="muted">when it ends</span>
                    ) : (
                      <a
                        href={`/debates/${encodeURIComponent(d.debate_id)}/receipt`}
                        aria-label={`Verify the receipt of “${d.question}”`}
                      >
                        Verify
                      </a>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      )}
      {list.data && (query.get("cursor") || list.data.next_cursor) && (
        <nav class="pager" aria-label="Pages of debates">
          {query.get("cursor") && <a href={pageLink(null)}>First page</a>}
          {list.data.next_cursor && <a href={pageLink(list.data.next_cursor)}>Next page</a>}
        </nav>
      )}
    </section>
  );
}
