/**
 * Start a debate: `/debates/new`. The question, the agents (from GET /api/agents/health: those the
 * server has configured, the demo agents included, plus any typed by name), rounds, consensus
 * method, topology and budget, sent as POST /api/debates takes them. The server's 422 names the
 * field and the rule; the message is shown at that field. Once started, the live page opens.
 *
 * @example navigate("/debates/new");
 */
import { useId, useState } from "preact/hooks";
import { ApiError, api } from "../../api.ts";
import { navigate } from "../../router.ts";
import { Field, Loading, messageOf, Notice, useApi } from "../../ui.tsx";
import "./debate-live.css";

interface AgentStatus {
  name: string;
  configured: boolean;
  simulated: boolean;
  state: "closed" | "half_open" | "open";
}

const CONSENSUS = ["majority", "supermajority", "unanimous", "confidence_weighted", "judge"] as const;
const TOPOLOGY = ["all_to_all", "ring", "star"] as const;
/** The form's fields, as the server names them after `body.`. */
const FIELDS = ["question", "agents", "rounds", "consensus", "topology", "budget.max_tokens", "budget.max_cost_usd"];

/** Which form field a server-named field belongs to (`body.agents[2]` -> `agents`), or undefined. */
export function fieldOf(name: string): string | undefined {
  const path = name.replace(/^body\./, "").replace(/\[\d+\]/g, "");
  return (
    FIELDS.find((f) => path === f || path.startsWith(`${f}.`)) ??
    (path.startsWith("budget") ? "budget.max_tokens" : undefined)
  );
}

function Select(props: {
  label: string;
  value: string;
  options: readonly string[];
  onChange: (v: string) => void;
  error?: string;
}) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select
        id={id}
        value={props.value}
        onChange={(e) => props.onChange((e.currentTarget as HTMLSelectElement).value)}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={props.error ? `${id}-error` : undefined}
      >
        {props.options.map((o) => (
          <option key={o} value={o}>
            {o.replaceAll("_", " ")}
          </option>
        ))}
      </select>
      {props.error && (
        <p class="field-error" id={`${id}-error`}>
          {props.error}
        </p>
      )}
    </div>
  );
}

export default function StartDebatePage() {
  const health = useApi<{ agents: AgentStatus[]; demo_only: boolean; message?: string }>("/api/agents/health");
  const [question, setQuestion] = useState("");
  const [chosen, setChosen] = useState<string[] | undefined>();
  const [others, setOthers] = useState("");
  const [rounds, setRounds] = useState("2");
  const [consensus, setConsensus] = useState<string>("majority");
  const [topology, setTopology] = useState<string>("all_to_all");
  const [maxTokens, setMaxTokens] = useState("");
  const [maxCost, setMaxCost] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);
  const ids = useId();

  const usable = (health.data?.agents ?? []).filter((a) => a.configured || a.simulated);
  // Until the person picks, the first three usable agents are ticked (a debate needs two).
  const picked = chosen ?? usable.slice(0, 3).map((a) => a.name);
  const toggle = (name: string, on: boolean) =>
    setChosen(on ? [...picked.filter((n) => n !== name), name] : picked.filter((n) => n !== name));

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setProblem(undefined);
    const typed = others
      .split(/[\s,]+/)
      .map((s) => s.trim())
      .filter(Boolean);
    const budget: Record<string, number> = {};
    if (maxTokens.trim()) budget.max_tokens = Number(maxTokens);
    if (maxCost.trim()) budget.max_cost_usd = Number(maxCost);
    const body = {
      question,
      agents: [...picked, ...typed.filter((t) => !picked.includes(t))],
      rounds: Number(rounds),
      consensus,
      topology,
      ...(Object.keys(budget).length > 0 ? { budget } : {}),
    };
    try {
      const created = await api.post<{ debate_id: string }>("/api/debates", body);
      navigate(`/debates/${encodeURIComponent(created.debate_id)}`);
    } catch (err) {
      setBusy(false);
      if (err instanceof ApiError && err.details.length > 0) {
        const found: Record<string, string> = {};
        const rest: string[] = [];
        for (const d of err.details) {
          const field = fieldOf(d.field);
          if (field) found[field] = found[field] ? `${found[field]}; ${d.rule}` : d.rule;
          else rest.push(`${d.field}: ${d.rule}`);
        }
        setErrors(found);
        setProblem(
          rest.length > 0 ? `${err.message}: ${rest.join("; ")}` : "Some fields need a change (see below each).",
        );
      } else setProblem(messageOf(err));
    }
  }

  return (
    <section>
      <h1>Start a debate</h1>
      {problem && <Notice kind="error">{problem}</Notice>}
      <form class="stack start-form" onSubmit={submit} noValidate>
        <div class="field">
          <label for={`${ids}-question`}>Question</label>
          <textarea
            id={`${ids}-question`}
            name="question"
            rows={3}
            value={question}
            onInput={(e) => setQuestion((e.currentTarget as HTMLTextAreaElement).value)}
            aria-invalid={errors.question ? true : undefined}
            aria-describedby={errors.question ? `${ids}-question-error` : undefined}
          />
          {errors.question && (
            <p class="field-error" id={`${ids}-question-error`}>
              {errors.question}
            </p>
          )}
        </div>
        <fieldset aria-describedby={errors.agents ? `${ids}-agents-error` : `${ids}-agents-hint`}>
          <legend>Agents</legend>
          {health.loading && <Loading label="Loading the agents…" />}
          {health.error && <Notice kind="error">{messageOf(health.error)}</Notice>}
          {health.data?.message && <p class="hint">{health.data.message}</p>}
          <div class="agent-choices">
            {usable.map((a) => (
              <label class="agent-choice" key={a.name}>
                <input
                  type="checkbox"
                  name="agents"
                  value={a.name}
                  checked={picked.includes(a.name)}
                  onChange={(e) => toggle(a.name, (e.currentTarget as HTMLInputElement).checked)}
                />
                {a.name}
                {a.simulated ? " (simulated)" : ""}
                {a.state !== "closed" ? ` (breaker ${a.state.replace("_", "-")})` : ""}
              </label>
            ))}
          </div>
          <Field
            label="Other agents"
            name="other_agents"
            value={others}
            onInput={setOthers}
            hint="More agents by name, separated by commas (provider:model, e.g. demo:dave)"
          />
          <p class="hint" id={`${ids}-agents-hint`}>
            Two to ten agents.
          </p>
          {errors.agents && (
            <p class="field-error" id={`${ids}-agents-error`}>
              {errors.agents}
            </p>
          )}
        </fieldset>
        <div class="form-row">
          <Field
            label="Rounds"
            name="rounds"
            type="number"
            inputMode="numeric"
            value={rounds}
            onInput={setRounds}
            hint="1 to 12"
            error={errors.rounds}
          />
          <Select
            label="Consensus"
            value={consensus}
            options={CONSENSUS}
            onChange={setConsensus}
            error={errors.consensus}
          />
          <Select label="Topology" value={topology} options={TOPOLOGY} onChange={setTopology} error={errors.topology} />
        </div>
        <fieldset>
          <legend>Budget (optional)</legend>
          <div class="form-row">
            <Field
              label="Most tokens"
              name="max_tokens"
              type="number"
              inputMode="numeric"
              value={maxTokens}
              onInput={setMaxTokens}
              error={errors["budget.max_tokens"]}
            />
            <Field
              label="Most cost (USD)"
              name="max_cost_usd"
              type="number"
              value={maxCost}
              onInput={setMaxCost}
              error={errors["budget.max_cost_usd"]}
            />
          </div>
        </fieldset>
        <button type="submit" disabled={busy}>
          {busy ? "Starting…" : "Start the debate"}
        </button>
      </form>
    </section>
  );
}
