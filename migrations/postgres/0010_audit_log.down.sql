-- Undoes 0009_audit_log.sql: the audit log and its indexes go (its entries with it).
DROP TABLE "audit_log";
