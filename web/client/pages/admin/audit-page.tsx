/**
 * The audit log, newest first, with the verdict of its hash chain: whole (its head and length) or
 * where it first breaks and how (edited, removed, inserted, reordered, truncated). An
 * organisation's admin sees their organisation's chain; the operator sees every chain.
 * Filters (action, outcome) live in the address bar, so a filtered view can be shared.
 */
import { useState } from "preact/hooks";
import { when } from "../../format.ts";
import type { PageProps } from "../../route.ts";
import { navigate } from "../../router.ts";
import { Field, Notice, StatusBadge, useApi } from "../../ui.tsx";
import { AdminFrame, Loaded, Table } from "./admin-frame.tsx";

interface Entry {
  id: string;
  chain: string;
  seq: number;
  at: string;
  action: string;
  outcome: string;
  actor: { kind: string; user_id: string | null; key_id: string | null; impersonator_id: string | null };
  target: { type: string | null; id: string | null } | null;
  ip: string | null;
  request_id: string | null;
  detail: unknown;
}

type Verdict =
  | { chain: string; ok: true; head: string; length: number }
  | { chain: string; ok: false; index: number; entry_id: string | null; seq: number | null; reason: string };

interface AuditAnswer {
  entries: Entry[];
  next_cursor: string | null;
  chain: Verdict;
  chains: Verdict[];
}

function ChainCheck({ verdict }: { verdict: Verdict }) {
  if (verdict.ok) {
    return (
      <Notice kind="success">
        The audit chain is whole: {verdict.length} entries, head <span class="mono">{verdict.head}</span>.
      </Notice>
    );
  }
  return (
    <Notice kind="error">
      The audit chain {verdict.chain} is broken at entry {verdict.seq ?? verdict.index}: {verdict.reason}
      {verdict.entry_id && (
        <>
          {" "}
          (<span class="mono">{verdict.entry_id}</span>)
        </>
      )}
      .
    </Notice>
  );
}

const actorOf = (a: Entry["actor"]) =>
  [a.kind, a.user_id ?? a.key_id, a.impersonator_id ? `acting for ${a.impersonator_id}` : null]
    .filter(Boolean)
    .join(" ");

export default function AuditPage({ query }: PageProps) {
  const [action, setAction] = useState(query.get("action") ?? "");
  const params = new URLSearchParams({ limit: "100" });
  for (const key of ["action", "outcome", "cursor"]) {
    const v = query.get(key);
    if (v) params.set(key, v);
  }
  const audit = useApi<AuditAnswer>(`/api/admin/audit?${params}`);
  const filter = (changes: Record<string, string>) => {
    const next = new URLSearchParams(query);
    next.delete("cursor");
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    navigate(`/admin/audit${next.size > 0 ? `?${next}` : ""}`);
  };
  return (
    <AdminFrame title="Audit log">
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          filter({ action: action.trim() });
        }}
      >
        <Field label="Action" value={action} onInput={setAction} hint="e.g. ops.step_approved" />
        <div class="field">
          <label for="audit-outcome">Outcome</label>
          <select
            id="audit-outcome"
            value={query.get("outcome") ?? ""}
            onChange={(e) => filter({ outcome: (e.currentTarget as HTMLSelectElement).value })}
          >
            <option value="">any</option>
            <option value="success">success</option>
            <option value="failure">failure</option>
          </select>
        </div>
        <div class="field">
          <button type="submit">Filter</button>
        </div>
      </form>
      <Loaded state={audit}>
        {(a) => (
          <>
            <ChainCheck verdict={a.chain} />
            {a.chains.length > 1 && (
              <Table caption="Each audit chain" head={["Chain", "Verdict", "Entries"]}>
                {a.chains.map((c) => (
                  <tr key={c.chain}>
                    <td class="mono">{c.chain}</td>
                    <td>
                      {c.ok ? (
                        <StatusBadge status="whole" />
                      ) : (
                        <>
                          <StatusBadge status="broken" /> at entry {c.seq ?? c.index}: {c.reason}
                        </>
                      )}
                    </td>
                    <td>{c.ok ? c.length : ""}</td>
                  </tr>
                ))}
              </Table>
            )}
            {a.entries.length === 0 ? (
              <p>No entries.</p>
            ) : (
              <Table
                caption="Audit entries"
                head={["At", "Action", "Outcome", "Actor", "Target", "Request id", "Detail"]}
              >
                {a.entries.map((e) => (
                  <tr key={e.id}>
                    <td>{when(e.at)}</td>
                    <td>{e.action}</td>
                    <td>
                      <StatusBadge status={e.outcome === "failure" ? "failed" : e.outcome} />
                    </td>
                    <td class="mono">{actorOf(e.actor)}</td>
                    <td class="mono">{e.target ? `${e.target.type ?? ""} ${e.target.id ?? ""}` : ""}</td>
                    <td class="mono">{e.request_id ?? ""}</td>
                    <td class="mono wide">{e.detail == null ? "" : JSON.stringify(e.detail)}</td>
                  </tr>
                ))}
              </Table>
            )}
            {a.next_cursor && (
              <p>
                <a
                  href={`/admin/audit?${new URLSearchParams({ ...Object.fromEntries(query), cursor: a.next_cursor })}`}
                >
                  Older entries
                </a>
              </p>
            )}
          </>
        )}
      </Loaded>
    </AdminFrame>
  );
}
