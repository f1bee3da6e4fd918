/**
 * The organisation's debates, newest first (GET /api/debates): question, status, agents, when.
 */
import { when } from "../../format.ts";
import { Loading, messageOf, Notice, useApi } from "../../ui.tsx";

interface DebateSummary {
  debate_id: string;
  question: string;
  status: string;
  stop_reason: string | null;
  agents: string[];
  created_at: string;
  finished_at: string | null;
}

export default function DebatesPage() {
  const list = useApi<{ debates: DebateSummary[]; next_cursor: string | null }>("/api/debates?limit=50");
  return (
    <section>
      <h1>Debates</h1>
      {list.loading && <Loading />}
      {list.error && <Notice kind="error">{messageOf(list.error)}</Notice>}
      {list.data && list.data.debates.length === 0 && (
        <p>
          No debates yet. Start one with <code>POST /api/debates</code> (see the <a href="/developer">developer</a>{" "}
          page).
        </p>
      )}
      {list.data && list.data.debates.length > 0 && (
        <div class="table-scroll">
          <table>
            <caption class="visually-hidden">The organisation's debates, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Question</th>
                <th scope="col">Status</th>
                <th scope="col">Agents</th>
                <th scope="col">Started</th>
              </tr>
            </thead>
            <tbody>
              {list.data.debates.map((d) => (
                <tr key={d.debate_id}>
                  <td>{d.question}</td>
                  <td>
                    <span class={`badge badge-${d.status}`}>{d.status}</span>
                  </td>
                  <td>{d.agents.join(", ")}</td>
                  <td>{when(d.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
