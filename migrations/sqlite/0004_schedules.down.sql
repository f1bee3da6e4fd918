-- Undoes 0004_schedules.sql.
DROP TABLE `schedules`;
