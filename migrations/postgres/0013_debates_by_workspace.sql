-- The rows already here get the legacy workspace `local` first, then their organisation's default
-- workspace when it has one; the legacy owner's (`local`) stay in `local` until the first
-- organisation adopts them at start. Every insert names the workspace: no default is kept.
ALTER TABLE "debates" ADD COLUMN "workspace_id" text NOT NULL DEFAULT 'local';--> statement-breakpoint
UPDATE "debates" AS "d" SET "workspace_id" = "w"."id"
	FROM "workspaces" AS "w" WHERE "w"."org_id" = "d"."org_id" AND "w"."is_default";--> statement-breakpoint
ALTER TABLE "debates" ALTER COLUMN "workspace_id" DROP DEFAULT;
