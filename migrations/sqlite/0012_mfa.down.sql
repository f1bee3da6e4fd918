-- Undoes 0009_mfa.sql: the second factor's tables, and the sessions' authentication methods.
DROP TABLE `mfa_challenges`;--> statement-breakpoint
DROP TABLE `mfa_recovery_codes`;--> statement-breakpoint
DROP TABLE `mfa_totp`;--> statement-breakpoint
ALTER TABLE `refresh_tokens` DROP COLUMN `amr`;
