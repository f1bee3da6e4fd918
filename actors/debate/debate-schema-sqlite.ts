/**
 * Debate tables for SQLite: `debates` (one row per debate, in a workspace of an organisation, made by a user),
 * `debate_participants` (the seats, for the agent filter), `debate_event_chunks` (the append-only
 * event log, the source of truth a restarted node resumes from), `debate_receipts` (signed decision
 * receipts), `elo_ratings` (each organisation's leaderboard) and `organisation_cost_caps` (what an
 * organisation's debates may cost a month); and the view `debate_events`, one row per event,
 * for ad-hoc SQL. Keep in agreement with ./debate-schema-postgres.ts.
 *
 * @example
 * import { debateEvents } from "./debate-schema-sqlite.ts";
 * db.select().from(debateEvents).where(eq(debateEvents.debateId, "d-42")).orderBy(debateEvents.seq);
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, sqliteView, text } from "drizzle-orm/sqlite-core";

export const debates = sqliteTable(
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
    // JSON documents: the validated configuration, the outcome and the per-round/per-agent figures.
    config: text("config").notNull(),
    metadata: text("metadata").notNull(),
    status: text("status").notNull(),
    stopReason: text("stop_reason"),
    error: text("error"),
    consensus: text("consensus"),
    baseline: text("baseline"),
    summary: text("summary"),
    lastSeq: integer("last_seq").notNull().default(0),
    // A flag stored as 0 or 1, read and written as a boolean so the row is PostgreSQL's (see
    // dialectTables). The default is given as the stored 0 the table was created with (drizzle-kit
    // would read `false` as a changed default); drizzle binds it through the column all the same.
    eloApplied: integer("elo_applied", { mode: "boolean" })
      .notNull()
      .default(0 as unknown as boolean),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
    finishedAt: integer("finished_at", { mode: "timestamp_ms" }),
  },
  (t) => [
    // Every list and export reads one organisation's debates, newest first (user_id is the creator).
    index("debates_org_created_idx").on(t.orgId, t.createdAt, t.id),
    index("debates_status_idx").on(t.status),
  ],
);

export const debateParticipants = sqliteTable(
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
 * The event log, one row per debate per write batch (the EventWriter's transaction): one row per
 * event cost two B-tree inserts per event on the hot path. A chunk holds the consecutive seqs
 * first_seq..last_seq; chunks of a debate never overlap, so a seq is stored at most once.
 */
export const debateEventChunks = sqliteTable(
  "debate_event_chunks",
  {
    debateId: text("debate_id")
      .notNull()
      .references(() => debates.id, { onDelete: "cascade" }),
    firstSeq: integer("first_seq").notNull(),
    lastSeq: integer("last_seq").notNull(),
    // Each event's SHA-256 chain link (sha256(previous hash + sha256(envelope))), 64 hex chars
    // each, concatenated in seq order.
    hashes: text("hashes").notNull(),
    // A JSON array of the envelopes exactly as published, so a replay sends the same bytes.
    events: text("events").notNull(),
  },
  (t) => [primaryKey({ columns: [t.debateId, t.firstSeq] })],
);

/**
 * The debate's events that other features act on once they are committed (OUTBOX_EVENT_TYPES:
 * start, consensus, agent errors, end, receipt), one row each, written in the same transaction as
 * the chunk that holds the event: the webhooks feature turns each into deliveries and then removes
 * it, so an event committed just before a crash is still delivered after the restart.
 */
export const debateEventOutbox = sqliteTable(
  "debate_event_outbox",
  {
    debateId: text("debate_id")
      .notNull()
      .references(() => debates.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    type: text("type").notNull(),
    // The envelope exactly as published.
    payload: text("payload").notNull(),
  },
  (t) => [primaryKey({ columns: [t.debateId, t.seq] })],
);

/**
 * One row per event, as the `debate_events` table had before chunks, so operators' SQL keeps
 * working: type, round, agent and ts (epoch ms) come from the envelope, the hash from the chunk.
 */
export const debateEvents = sqliteView("debate_events", {
  debateId: text("debate_id").notNull(),
  seq: integer("seq").notNull(),
  type: text("type").notNull(),
  round: integer("round"),
  agent: text("agent"),
  ts: integer("ts", { mode: "timestamp_ms" }).notNull(),
  hash: text("hash").notNull(),
  payload: text("payload").notNull(),
}).as(
  sql`SELECT c.debate_id AS debate_id, c.first_seq + e.key AS seq, json_extract(e.value, '$.type') AS type, json_extract(e.value, '$.round') AS round, json_extract(e.value, '$.agent') AS agent, CAST(strftime('%s', json_extract(e.value, '$.ts')) AS INTEGER) * 1000 + CAST(substr(json_extract(e.value, '$.ts'), 21, 3) AS INTEGER) AS ts, substr(c.hashes, e.key * 64 + 1, 64) AS hash, e.value AS payload FROM debate_event_chunks AS c, json_each(c.events) AS e`,
);

export const debateReceipts = sqliteTable("debate_receipts", {
  debateId: text("debate_id")
    .primaryKey()
    .references(() => debates.id, { onDelete: "cascade" }),
  receipt: text("receipt").notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
});

/** The leaderboard, one per organisation: an agent's rating from that organisation's debates. */
export const eloRatings = sqliteTable(
  "elo_ratings",
  {
    orgId: text("org_id").notNull(),
    name: text("name").notNull(),
    elo: real("elo").notNull(),
    debates: integer("debates").notNull(),
    wins: integer("wins").notNull(),
    losses: integer("losses").notNull(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.name] })],
);

/**
 * An organisation's own monthly cost cap (PUT /api/billing/cap); without a row, the configured
 * default (ARAGORA_MONTHLY_COST_CAP_USD) applies, or none.
 */
export const organisationCostCaps = sqliteTable("organisation_cost_caps", {
  orgId: text("org_id").primaryKey(),
  monthlyCostCapUsd: real("monthly_cost_cap_usd").notNull(),
  updatedBy: text("updated_by").notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});
