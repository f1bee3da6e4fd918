/**
 * `incident.record`: write the runbook's post-incident review (`# Incident: YYYY-MM-DD-title`,
 * Summary, Timeline, Root Cause, Action Items) to `<data dir>/incidents/YYYY-MM-DD-<title>.md`,
 * with the Timeline filled from this run's journal: every check, gate and outcome the response
 * playbook went through, with its time (UTC).
 *
 * @example
 * steps:
 *   - id: record
 *     action: incident.record
 *     with:
 *       title: ${{ params.title }}
 *       severity: P1
 *       summary: API health check failed; integrity ok
 *       action_items: ["Add an alert on /api/health latency"]
 *     timeout: 1m
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type } from "arktype";
import { lazy } from "../../schemas/lazy.ts";
import type { ActionDefinition, TimelineEntry } from "../action.ts";
import { incidentsDir } from "../cleanup/layout.ts";

const IncidentInput = lazy(() =>
  type({
    "+": "reject",
    title: "string > 0",
    "severity?": "'P1' | 'P2' | 'P3' | 'P4'",
    "summary?": "string",
    "root_cause?": "string",
    "action_items?": "string[]",
  }),
);
type IncidentInputT = typeof IncidentInput.infer;

/** A file-name-safe slug of a title. @example slugify("API down: 502s!") // "api-down-502s" */
export function slugify(title: string): string {
  const slug = title
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 60)
    .replace(/-+$/, "");
  return slug === "" ? "incident" : slug;
}

const DATA_KEYS = ["action", "message", "status", "error", "outcome", "approver", "decision", "reason"] as const;

/** One journal entry as a timeline line: `- HH:MM - step: what happened (details)`. */
export function timelineLine(entry: TimelineEntry): string {
  const hhmm = entry.at.slice(11, 16);
  const what = entry.kind.replaceAll("_", " ");
  const details = DATA_KEYS.flatMap((k) => {
    const v = entry.data[k];
    return v === undefined || v === null || v === "" ? [] : [`${k}: ${String(v).split("\n")[0]}`];
  });
  const outputs = entry.data.outputs;
  if (outputs && typeof outputs === "object" && Object.keys(outputs).length > 0) {
    details.push(
      `outputs: ${Object.entries(outputs as Record<string, unknown>)
        .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
        .join(", ")
        .slice(0, 200)}`,
    );
  }
  return `- ${hhmm} - ${entry.stepId ? `${entry.stepId}: ` : ""}${what}${details.length > 0 ? ` (${details.join("; ")})` : ""}`;
}

/**
 * The review document in the runbook's template.
 *
 * @example
 * renderIncident({ title: "API down" }, "2026-11-28", [], "r-20261128-abc");
 */
export function renderIncident(
  input: IncidentInputT,
  day: string,
  timeline: readonly TimelineEntry[],
  runId: string,
  playbook: string,
): string {
  // Progress lines repeat every few percent; the review wants the events, not the ticks.
  const events = timeline.filter((e) => !e.kind.includes("progress"));
  const items = input.action_items && input.action_items.length > 0 ? input.action_items : ["Preventive measure 1"];
  return [
    `# Incident: ${day}-${input.title}`,
    "",
    ...(input.severity ? [`Severity: ${input.severity}`, ""] : []),
    "## Summary",
    input.summary?.trim() || "Brief description of what happened",
    "",
    "## Timeline",
    `Times are UTC, from the journal of run ${runId} (playbook ${playbook}).`,
    "",
    ...(events.length > 0 ? events.map(timelineLine) : ["- (the run's journal has no entries yet)"]),
    "",
    "## Root Cause",
    input.root_cause?.trim() || "Technical description",
    "",
    "## Action Items",
    ...items.map((i) => `- [ ] ${i}`),
    "",
    `<!-- aragora-run: ${runId} -->`,
    "",
  ].join("\n");
}

/** The file for `title` on `day`; a review written by another run keeps its name, this one gets -2, -3 ... */
function targetPath(dir: string, day: string, title: string, runId: string): string {
  const base = `${day}-${slugify(title)}`;
  for (let n = 1; ; n++) {
    const path = join(dir, `${n === 1 ? base : `${base}-${n}`}.md`);
    if (!existsSync(path)) return path;
    if (readFileSync(path, "utf8").includes(`<!-- aragora-run: ${runId} -->`)) return path;
  }
}

export const incidentRecord: ActionDefinition<IncidentInputT, Record<string, unknown>> = {
  name: "incident.record",
  description:
    "write the post-incident review <data dir>/incidents/YYYY-MM-DD-title.md, the timeline filled from the run's journal",
  input: IncidentInput,
  outputs: ["path", "events"],
  // A re-run rewrites this run's own file (with a fuller timeline), never another incident's.
  idempotent: true,
  async plan(input, ctx) {
    const day = new Date().toISOString().slice(0, 10);
    const dir = incidentsDir(ctx.dataDir);
    const path = targetPath(dir, day, input.title, ctx.runId);
    const text = renderIncident(input, day, await ctx.timeline(), ctx.runId, ctx.playbook.name);
    return {
      summary: `write the post-incident review ${path}`,
      changes: [
        {
          kind: existsSync(path) ? "modify" : "create",
          target: path,
          diff: text
            .split("\n")
            .map((l) => `+${l}`)
            .join("\n"),
          bytes: Buffer.byteLength(text),
        },
      ],
    };
  },
  async run(input, ctx) {
    const day = new Date().toISOString().slice(0, 10);
    const dir = incidentsDir(ctx.dataDir);
    mkdirSync(dir, { recursive: true });
    const timeline = await ctx.timeline();
    const path = targetPath(dir, day, input.title, ctx.runId);
    const text = renderIncident(input, day, timeline, ctx.runId, ctx.playbook.name);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, path);
    ctx.log.info({ path, events: timeline.length }, "post-incident review written");
    return { path, events: timeline.length };
  },
};
