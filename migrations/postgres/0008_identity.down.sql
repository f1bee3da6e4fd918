-- Undoes 0008_identity.sql. Debates of the first organisation go back to the legacy "local"
-- owner, as they were before the first start moved them.
UPDATE "debates" SET "org_id" = 'local' WHERE "org_id" IN (SELECT "org_id" FROM "setup");--> statement-breakpoint
DROP TABLE "ws_tickets";--> statement-breakpoint
DROP TABLE "password_resets";--> statement-breakpoint
DROP TABLE "setup";--> statement-breakpoint
DROP TABLE "api_keys";--> statement-breakpoint
DROP TABLE "refresh_tokens";--> statement-breakpoint
DROP TABLE "memberships";--> statement-breakpoint
DROP TABLE "workspaces";--> statement-breakpoint
DROP TABLE "users";--> statement-breakpoint
DROP TABLE "organisations";
