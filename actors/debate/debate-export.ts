/**
 * Debate exports: the list (GET /api/debates/export) and one debate's transcript
 * (GET /api/debates/:id/export) as json, jsonl, csv or md, streamed page by page so a large export
 * never sits in memory.
 *
 * @example
 * return new Response(exportDebates(store, orgId, filter, "csv"), { headers: { "content-type": EXPORT_TYPES.csv } });
 */

import { jsonValueDepth, MAX_JSON_DEPTH } from "../../runtime/json-limits.ts";
import type { Usage } from "../agent/turn.ts";
import type { DebateListFilter, DebateRow, DebateStore } from "./debate-store.ts";
import type { DebateConfig, DebateEventEnvelope, DebateSummaryData } from "./types.ts";

export type ExportFormat = "json" | "jsonl" | "csv" | "md";

export const EXPORT_TYPES: Record<ExportFormat, string> = {
  json: "application/json; charset=utf-8",
  jsonl: "application/x-ndjson; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  md: "text/markdown; charset=utf-8",
};

const PAGE = 200;

/** The public shape of a debate in lists and exports. @example debateSummary(row).debate_id */
export function debateSummary(row: DebateRow) {
  return {
    debate_id: row.id,
    question: row.question,
    status: row.status,
    stop_reason: row.stopReason,
    agents: row.config.agents,
    created_at: row.createdAt.toISOString(),
    finished_at: row.finishedAt ? row.finishedAt.toISOString() : null,
    consensus: row.consensus ? { ...row.consensus } : null,
  };
}

/**
 * The configuration as the API speaks it: the names POST /api/debates accepts (snake_case,
 * timeouts in seconds), with every default filled in.
 *
 * @example configView(row.config).timeouts.debate_s // 3600
 */
export function configView(config: DebateConfig) {
  return {
    agents: config.agents,
    rounds: config.rounds,
    consensus: config.consensus,
    topology: config.topology,
    convergence_threshold: config.convergenceThreshold,
    budget: { max_tokens: config.budget.maxTokens, max_cost_usd: config.budget.maxCostUsd },
    timeouts: {
      turn_s: config.timeouts.turnMs / 1000,
      round_s: config.timeouts.roundMs / 1000,
      debate_s: config.timeouts.debateMs / 1000,
    },
    roles: {
      judge: config.roles.judge,
      devils_advocate: config.roles.devilsAdvocate,
      synthesiser: config.roles.synthesiser,
    },
  };
}

const usageView = (u: Usage) => ({
  input_tokens: u.inputTokens,
  output_tokens: u.outputTokens,
  cache_read_tokens: u.cacheReadTokens,
  cache_write_tokens: u.cacheWriteTokens,
  reasoning_tokens: u.reasoningTokens,
  estimated: u.estimated,
});

type AgentSummary = DebateSummaryData["agents"][string];

const agentView = (a: AgentSummary) => ({
  turns: a.turns,
  usage: usageView(a.usage),
  cost_usd: a.costUsd,
  cost_estimated: a.costEstimated,
  latency_ms: a.latencyMs,
});

/**
 * The outcome summary as the API speaks it (snake_case): agreement per round, usage and cost per
 * agent, totals, failed seats and final answers.
 *
 * @example summaryView(row.summary).agents["demo:bob"].cost_usd
 */
export function summaryView(summary: DebateSummaryData) {
  // A loop rather than entries/map/fromEntries: every read of a finished debate builds this.
  const agents: Record<string, ReturnType<typeof agentView>> = {};
  for (const name of Object.keys(summary.agents)) agents[name] = agentView(summary.agents[name] as AgentSummary);
  return {
    agreement: summary.agreement,
    agents,
    totals: { tokens: summary.totals.tokens, cost_usd: summary.totals.costUsd },
    failed_seats: summary.failedSeats,
    rounds_completed: summary.roundsCompleted,
    final_answers: summary.finalAnswers,
  };
}

/**
 * The stored metadata as the API shows it. Metadata is checked on the way in (schemas/metadata.ts),
 * but a record stored before those limits may nest deeper than anything can serialise: that one
 * record shows `metadata: null` and says why in `metadata_error`, and every other record, list and
 * export still reads.
 *
 * @example metadataView({ ticket: "OPS-1" }) // { metadata: { ticket: "OPS-1" } }
 */
export function metadataView(metadata: unknown): { metadata: Record<string, unknown> | null; metadata_error?: string } {
  if (jsonValueDepth(metadata, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    return {
      metadata: null,
      metadata_error: `the stored metadata nests deeper than ${MAX_JSON_DEPTH} levels and is withheld; it was stored before metadata had limits`,
    };
  }
  return { metadata: metadata as Record<string, unknown> };
}

/** The full record (GET /api/debates/:id). @example debateRecord(row).summary */
export function debateRecord(row: DebateRow) {
  return {
    ...debateSummary(row),
    config: configView(row.config),
    ...metadataView(row.metadata),
    error: row.error,
    baseline: row.baseline ? { ...row.baseline } : null,
    summary: row.summary ? summaryView(row.summary) : null,
    last_seq: row.lastSeq,
    ws_topic: `debate:${row.id}`,
    user_id: row.owner.userId,
    org_id: row.owner.orgId,
    workspace_id: row.owner.workspaceId,
  };
}

/** RFC 4180 field quoting. @example csvField('say "hi"') // '"say ""hi"""' */
export function csvField(value: unknown): string {
  const s = value === null || value === undefined ? "" : String(value);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

const CSV_COLUMNS = [
  "debate_id",
  "created_at",
  "finished_at",
  "status",
  "stop_reason",
  "question",
  "agents",
  "consensus_answer",
  "consensus_reached",
  "rounds_completed",
  "tokens",
  "cost_usd",
];

function csvRow(row: DebateRow): string {
  return [
    row.id,
    row.createdAt.toISOString(),
    row.finishedAt?.toISOString() ?? "",
    row.status,
    row.stopReason ?? "",
    row.question,
    row.config.agents.join(";"),
    row.consensus?.answer ?? "",
    row.consensus?.reached ?? "",
    row.summary?.roundsCompleted ?? "",
    row.summary?.totals.tokens ?? "",
    row.summary?.totals.costUsd ?? "",
  ]
    .map(csvField)
    .join(",");
}

function mdSection(row: DebateRow): string {
  const lines = [
    `## ${row.question.replaceAll("\n", " ")}`,
    "",
    `- id: \`${row.id}\``,
    `- status: ${row.status}${row.stopReason ? ` (${row.stopReason})` : ""}`,
    `- agents: ${row.config.agents.join(", ")}`,
    `- created: ${row.createdAt.toISOString()}`,
  ];
  if (row.consensus) {
    lines.push(
      `- consensus (${row.consensus.method}): ${row.consensus.answer ?? "none"} — ${row.consensus.reached ? "reached" : "not reached"}, support ${row.consensus.support}`,
    );
  }
  if (row.baseline) lines.push(`- round-0 baseline: ${row.baseline.answer ?? "none"}`);
  if (row.error) lines.push(`- error: ${row.error}`);
  return `${lines.join("\n")}\n\n`;
}

/**
 * Stream every debate of the organisation matching the filter in one format.
 *
 * @example new Response(exportDebates(store, principal.orgId, { status: "completed" }, "jsonl"))
 */
export function exportDebates(
  store: Pick<DebateStore, "list">,
  orgId: string,
  filter: Omit<DebateListFilter, "limit" | "after">,
  format: ExportFormat,
): ReadableStream<string> {
  let after: DebateListFilter["after"];
  let first = true;
  let done = false;
  return new ReadableStream<string>({
    async pull(controller) {
      if (done) return;
      if (first) {
        if (format === "json") controller.enqueue('{"debates":[');
        if (format === "csv") controller.enqueue(`${CSV_COLUMNS.join(",")}\r\n`);
        if (format === "md") controller.enqueue(`# Debates export\n\nExported ${new Date().toISOString()}.\n\n`);
      }
      const rows = await store.list(orgId, { ...filter, limit: PAGE, after });
      const parts: string[] = [];
      for (const row of rows) {
        if (format === "json") parts.push(`${first ? "" : ","}${JSON.stringify(debateRecord(row))}`);
        else if (format === "jsonl") parts.push(`${JSON.stringify(debateRecord(row))}\n`);
        else if (format === "csv") parts.push(`${csvRow(row)}\r\n`);
        else parts.push(mdSection(row));
        first = false;
      }
      first = false;
      if (parts.length > 0) controller.enqueue(parts.join(""));
      const last = rows.at(-1);
      if (rows.length < PAGE || !last) {
        if (format === "json") controller.enqueue("]}");
        done = true;
        controller.close();
        return;
      }
      after = { createdAt: last.createdAt.getTime(), id: last.id };
    },
  });
}

/**
 * One debate with its transcript (events) in one format.
 *
 * @example exportDebate(row, events, "md")
 */
export function exportDebate(row: DebateRow, events: DebateEventEnvelope[], format: ExportFormat): string {
  switch (format) {
    case "json":
      return JSON.stringify({ debate: debateRecord(row), events });
    case "jsonl":
      return events.map((e) => `${JSON.stringify(e)}\n`).join("");
    case "csv": {
      const head = ["seq", "ts", "type", "round", "agent", "phase", "text"].join(",");
      const lines = events
        .filter((e) => e.type !== "token")
        .map((e) => {
          // A row for every type: the fields an event has of these, blank otherwise.
          const data: Readonly<Record<string, unknown>> = e.data;
          return [e.seq, e.ts, e.type, e.round ?? "", e.agent ?? "", data.phase ?? "", data.text ?? data.answer ?? ""]
            .map(csvField)
            .join(",");
        });
      return `${[head, ...lines].join("\r\n")}\r\n`;
    }
    case "md": {
      const out = [`# ${row.question.replaceAll("\n", " ")}`, "", mdSection(row).split("\n").slice(2).join("\n")];
      for (const e of events) {
        if (e.type === "round_start") out.push(`## Round ${e.round} (${String(e.data.phase ?? "")})`, "");
        if (e.type === "turn_end")
          out.push(`### ${e.agent} — ${String(e.data.phase)}`, "", String(e.data.text ?? ""), "");
        if (e.type === "vote")
          out.push(
            `- vote by ${e.agent}: ${String(e.data.choice ?? "abstained")} (confidence ${String(e.data.confidence)})`,
          );
        if (e.type === "agent_error") out.push(`> ${e.agent} failed: ${String(e.data.message)}`, "");
        if (e.type === "consensus")
          out.push(
            "",
            `**Consensus:** ${String(e.data.answer ?? "none")} (${e.data.reached ? "reached" : "not reached"})`,
            "",
          );
      }
      return `${out.join("\n")}\n`;
    }
  }
}
