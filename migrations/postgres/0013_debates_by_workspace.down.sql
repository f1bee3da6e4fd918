-- Undoes 0009_debates_by_workspace.sql: debates belong to their organisation only again.
ALTER TABLE "debates" DROP COLUMN "workspace_id";
