/** Every PostgreSQL table group; drizzle-kit reads this file to generate migrations/postgres. */

export { debateEventChunks, debateEvents, debateParticipants, debateReceipts, debates, eloRatings } from "./debates.ts";
export { nodes } from "./nodes.ts";
export { opsApprovals, opsJournal, opsRuns, opsSteps } from "./ops.ts";
export { schedules } from "./schedules.ts";
