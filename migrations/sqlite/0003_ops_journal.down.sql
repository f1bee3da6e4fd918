-- Undoes 0003_ops_journal.sql.
DROP INDEX `ops_runs_created_at_idx`;--> statement-breakpoint
DROP TABLE `ops_steps`;--> statement-breakpoint
DROP TABLE `ops_runs`;--> statement-breakpoint
DROP TABLE `ops_journal`;--> statement-breakpoint
DROP TABLE `ops_approvals`;
