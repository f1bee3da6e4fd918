DROP INDEX "debates_owner_created_idx";--> statement-breakpoint
CREATE INDEX "debates_org_created_idx" ON "debates" USING btree ("org_id","created_at","id");--> statement-breakpoint
-- Every rating so far came from debates of the legacy owner `local`.
ALTER TABLE "elo_ratings" ADD COLUMN "org_id" text NOT NULL DEFAULT 'local';--> statement-breakpoint
ALTER TABLE "elo_ratings" ALTER COLUMN "org_id" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "elo_ratings" DROP CONSTRAINT "elo_ratings_pkey";--> statement-breakpoint
ALTER TABLE "elo_ratings" ADD CONSTRAINT "elo_ratings_org_id_name_pk" PRIMARY KEY("org_id","name");
