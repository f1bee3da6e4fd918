/**
 * Debate tables for PostgreSQL: `debates`, `debate_participants`, `debate_events` (the event log),
 * `debate_receipts` and `elo_ratings`. Keep in agreement with ../sqlite/debates.ts.
 *
 * @example
 * import { debateEvents } from "./debates.ts";
 * db.select().from(debateEvents).where(eq(debateEvents.debateId, "d-42")).orderBy(debateEvents.seq);
 */
import {
  bigint,
  boolean,
  doublePrecision,
  index,
  integer,
  pgTable,
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
    index("debates_owner_created_idx").on(t.userId, t.orgId, t.createdAt),
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

export const debateEvents = pgTable(
  "debate_events",
  {
    debateId: text("debate_id")
      .notNull()
      .references(() => debates.id, { onDelete: "cascade" }),
    seq: bigint("seq", { mode: "number" }).notNull(),
    type: text("type").notNull(),
    round: integer("round"),
    agent: text("agent"),
    ts: instant("ts").notNull(),
    hash: text("hash").notNull(),
    payload: text("payload").notNull(),
  },
  (t) => [primaryKey({ columns: [t.debateId, t.seq] })],
);

export const debateReceipts = pgTable("debate_receipts", {
  debateId: text("debate_id")
    .primaryKey()
    .references(() => debates.id, { onDelete: "cascade" }),
  receipt: text("receipt").notNull(),
  createdAt: instant("created_at").notNull(),
});

export const eloRatings = pgTable("elo_ratings", {
  name: text("name").primaryKey(),
  elo: doublePrecision("elo").notNull(),
  debates: integer("debates").notNull(),
  wins: integer("wins").notNull(),
  losses: integer("losses").notNull(),
  updatedAt: instant("updated_at").notNull(),
});
