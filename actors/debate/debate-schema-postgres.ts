/**
 * Debate tables for PostgreSQL: `debates`, `debate_participants`, `debate_event_chunks` (the event
 * log), `debate_receipts`, `elo_ratings` and `organisation_cost_caps`, and the view `debate_events` (one row per event, for
 * ad-hoc SQL). Keep in agreement with ./debate-schema-sqlite.ts.
 *
 * @example
 * import { debateEvents } from "./debate-schema-postgres.ts";
 * db.select().from(debateEvents).where(eq(debateEvents.debateId, "d-42")).orderBy(debateEvents.seq);
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  doublePrecision,
  index,
  integer,
  pgTable,
  pgView,
  primaryKey,
  text,
  timestamp,
} from "drizzle-orm/pg-core";

const instant = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: "date" });

export const debates = pgTable(
  "debates",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull(),
    orgId: text("org_id").notNull(),
    // The workspace inside the organisation (its default one unless the principal chose another);
    // a debate made before workspaces existed gets its organisation's default (the migration, or
    // the legacy adoption at start).
    workspaceId: text("workspace_id").notNull(),
    question: text("question").notNull(),
    config: text("config").notNull(),
    metadata: text("metadata").notNull(),
    status: text("status").notNull(),
    stopReason: text("stop_reason"),
    error: text("error"),
    consensus: text("consensus"),
    baseline: text("baseline"),
    summary: text("summary"),
    lastSeq: bigint("last_seq", { mode: "number" }).notNull().default(0),
    eloApplied: boolean("elo_applied").notNull().default(false),
    createdAt: instant("created_at").notNull(),
    updatedAt: instant("updated_at").notNull(),
    finishedAt: instant("finished_at"),
  },
  (t) => [
    // Every list and export reads one organisation's debates, newest first (user_id is the creator).
    index("debates_org_created_idx").on(t.orgId, t.createdAt, t.id),
    index("debates_status_idx").on(t.status),
  ],
);

export const debateParticipants = pgTable(
  "debate_participants",
  {
    debateId: text("debate_id")
      .notNull()
      .references(() => debates.id, { onDelete: "cascade" }),
    seat: integer("seat").notNull(),
    agent: text("agent").notNull(),
  },
  (t) => [primaryKey({ columns: [t.debateId, t.seat] }), index("debate_participants_agent_idx").on(t.agent)],
);

/**
 * The event log, one row per debate per write batch (the EventWriter's transaction) instead of one
 * row per event. A chunk holds the consecutive seqs first_seq..last_seq; chunks of a debate never
 * overlap, so a seq is stored at most once.
 */
export const debateEventChunks = pgTable(
  "debate_event_chunks",
  {
    debateId: text("debate_id")
      .notNull()
      .references(() => debates.id, { onDelete: "cascade" }),
    firstSeq: bigint("first_seq", { mode: "number" }).notNull(),
    lastSeq: bigint("last_seq", { mode: "number" }).notNull(),
    // Each event's SHA-256 chain link, 64 hex chars each, concatenated in seq order.
    hashes: text("hashes").notNull(),
    // A JSON array of the envelopes exactly as published; text, not json/jsonb, so nothing is
    // validated or normalised on the hot path and a replay sends the same bytes.
    events: text("events").notNull(),
  },
  (t) => [primaryKey({ columns: [t.debateId, t.firstSeq] })],
);

/**
 * The debate's events that other features act on once they are committed, one row each, written in
 * the same transaction as their chunk (see ./debate-schema-sqlite.ts).
 */
export const debateEventOutbox = pgTable(
  "debate_event_outbox",
  {
    debateId: text("debate_id")
      .notNull()
      .references(() => debates.id, { onDelete: "cascade" }),
    seq: bigint("seq", { mode: "number" }).notNull(),
    type: text("type").notNull(),
    payload: text("payload").notNull(),
  },
  (t) => [primaryKey({ columns: [t.debateId, t.seq] })],
);

/**
 * One row per event, as the `debate_events` table had before chunks, so operators' SQL keeps
 * working. type, round, agent and ts are read from the envelope; PostgreSQL refuses to read any
 * field of a json object holding an escaped NUL or lone UTF-16 surrogate (`\u0000`, `\ud83d`: what
 * JSON.stringify writes for those in a model's text), so the fields are read from a copy where
 * such escapes are replaced by U+FFFD, while `payload` is the element exactly as stored.
 */
export const debateEvents = pgView("debate_events", {
  debateId: text("debate_id").notNull(),
  seq: bigint("seq", { mode: "number" }).notNull(),
  type: text("type").notNull(),
  round: integer("round"),
  agent: text("agent"),
  ts: instant("ts").notNull(),
  hash: text("hash").notNull(),
  payload: text("payload").notNull(),
}).as(
  sql.raw(String.raw`SELECT c.debate_id, c.first_seq + e.n - 1 AS seq, h.envelope ->> 'type' AS type,
  (h.envelope ->> 'round')::integer AS round, h.envelope ->> 'agent' AS agent,
  (h.envelope ->> 'ts')::timestamp(3) with time zone AS ts, substr(c.hashes, (e.n::integer - 1) * 64 + 1, 64) AS hash,
  e.value::text AS payload
FROM debate_event_chunks AS c
CROSS JOIN LATERAL json_array_elements(c.events::json) WITH ORDINALITY AS e(value, n)
CROSS JOIN LATERAL (
  SELECT regexp_replace(e.value::text, '(?<=(^|[^\\])(\\\\)*)\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})', '\\ufffd', 'g')::json
) AS h(envelope)`),
);

export const debateReceipts = pgTable("debate_receipts", {
  debateId: text("debate_id")
    .primaryKey()
    .references(() => debates.id, { onDelete: "cascade" }),
  receipt: text("receipt").notNull(),
  createdAt: instant("created_at").notNull(),
});

/** The leaderboard, one per organisation: an agent's rating from that organisation's debates. */
export const eloRatings = pgTable(
  "elo_ratings",
  {
    orgId: text("org_id").notNull(),
    name: text("name").notNull(),
    elo: doublePrecision("elo").notNull(),
    debates: integer("debates").notNull(),
    wins: integer("wins").notNull(),
    losses: integer("losses").notNull(),
    updatedAt: instant("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.name] })],
);

/**
 * An organisation's own monthly cost cap (PUT /api/billing/cap); without a row, the configured
 * default (ARAGORA_MONTHLY_COST_CAP_USD) applies, or none.
 */
export const organisationCostCaps = pgTable("organisation_cost_caps", {
  orgId: text("org_id").primaryKey(),
  monthlyCostCapUsd: doublePrecision("monthly_cost_cap_usd").notNull(),
  updatedBy: text("updated_by").notNull(),
  updatedAt: instant("updated_at").notNull(),
});
