/** Every SQLite table group; drizzle-kit reads this file to generate migrations/sqlite. */
export { nodes } from "./nodes.ts";
