/**
 * Debate tables for SQLite: `debates` (one row per debate, owned by a user and an org),
 * `debate_participants` (the seats, for the agent filter), `debate_events` (the append-only event
 * log, the source of truth a restarted node resumes from), `debate_receipts` (signed decision
 * receipts) and `elo_ratings` (the leaderboard). Keep in agreement with ../postgres/debates.ts.
 *
 * @example
 * import { debateEvents } from "./debates.ts";
 * db.select().from(debateEvents).where(eq(debateEvents.debateId, "d-42")).orderBy(debateEvents.seq);
 */
import { index, integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const debates = sqliteTable(
  "debates",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull(),
    orgId: text("org_id").notNull(),
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
    eloApplied: integer("elo_applied").notNull().default(0),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
    finishedAt: integer("finished_at", { mode: "timestamp_ms" }),
  },
  (t) => [
    index("debates_owner_created_idx").on(t.userId, t.orgId, t.createdAt),
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

export const debateEvents = sqliteTable(
  "debate_events",
  {
    debateId: text("debate_id")
      .notNull()
      .references(() => debates.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    type: text("type").notNull(),
    round: integer("round"),
    agent: text("agent"),
    ts: integer("ts", { mode: "timestamp_ms" }).notNull(),
    // SHA-256 chain link: sha256(previous hash + sha256(canonical envelope)).
    hash: text("hash").notNull(),
    // The envelope exactly as published, so a replay sends the same bytes.
    payload: text("payload").notNull(),
  },
  (t) => [primaryKey({ columns: [t.debateId, t.seq] })],
);

export const debateReceipts = sqliteTable("debate_receipts", {
  debateId: text("debate_id")
    .primaryKey()
    .references(() => debates.id, { onDelete: "cascade" }),
  receipt: text("receipt").notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
});

export const eloRatings = sqliteTable("elo_ratings", {
  name: text("name").primaryKey(),
  elo: real("elo").notNull(),
  debates: integer("debates").notNull(),
  wins: integer("wins").notNull(),
  losses: integer("losses").notNull(),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});
