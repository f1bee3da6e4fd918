-- Undoes 0020_integration_deliveries.sql: integrations lose their outcome deliveries (sent or still to send) and the reason the server disabled them.
DROP TABLE `integration_deliveries`;--> statement-breakpoint
ALTER TABLE `integrations` DROP COLUMN `disabled_reason`;
