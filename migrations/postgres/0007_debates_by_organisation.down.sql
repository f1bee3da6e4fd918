-- Back to one leaderboard: every organisation's ratings of an agent merge into one row (debates,
-- wins and losses summed; the rating of the organisation that played it most kept), and debates
-- are listed by creator and organisation again.
CREATE TABLE "__old_elo_ratings" AS
SELECT DISTINCT ON ("name") "name", "elo",
	(SUM("debates") OVER w)::integer AS "debates", (SUM("wins") OVER w)::integer AS "wins",
	(SUM("losses") OVER w)::integer AS "losses", MAX("updated_at") OVER w AS "updated_at"
FROM "elo_ratings"
WINDOW w AS (PARTITION BY "name")
ORDER BY "name", "debates" DESC, "org_id";--> statement-breakpoint
DELETE FROM "elo_ratings";--> statement-breakpoint
ALTER TABLE "elo_ratings" DROP CONSTRAINT "elo_ratings_org_id_name_pk";--> statement-breakpoint
ALTER TABLE "elo_ratings" DROP COLUMN "org_id";--> statement-breakpoint
ALTER TABLE "elo_ratings" ADD CONSTRAINT "elo_ratings_pkey" PRIMARY KEY("name");--> statement-breakpoint
INSERT INTO "elo_ratings" ("name", "elo", "debates", "wins", "losses", "updated_at")
	SELECT "name", "elo", "debates", "wins", "losses", "updated_at" FROM "__old_elo_ratings";--> statement-breakpoint
DROP TABLE "__old_elo_ratings";--> statement-breakpoint
DROP INDEX "debates_org_created_idx";--> statement-breakpoint
CREATE INDEX "debates_owner_created_idx" ON "debates" USING btree ("user_id","org_id","created_at");
