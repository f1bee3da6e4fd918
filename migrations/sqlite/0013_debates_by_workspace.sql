-- SQLite adds a NOT NULL column to a table with rows only with a default: `local`, the legacy
-- workspace. It only fills the rows already here (every insert names the workspace); the schema
-- declares none.
ALTER TABLE `debates` ADD `workspace_id` text DEFAULT 'local' NOT NULL;--> statement-breakpoint
-- A debate already in an organisation moves to that organisation's default workspace; the legacy
-- owner's (`local`) stay in workspace `local` until the first organisation adopts them at start.
UPDATE `debates` SET `workspace_id` = (
	SELECT `w`.`id` FROM `workspaces` AS `w` WHERE `w`.`org_id` = `debates`.`org_id` AND `w`.`is_default` = 1
) WHERE EXISTS (
	SELECT 1 FROM `workspaces` AS `w` WHERE `w`.`org_id` = `debates`.`org_id` AND `w`.`is_default` = 1
);
