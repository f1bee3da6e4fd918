/** Every PostgreSQL table group; drizzle-kit reads this file to generate migrations/postgres. */
export { nodes } from "./nodes.ts";
