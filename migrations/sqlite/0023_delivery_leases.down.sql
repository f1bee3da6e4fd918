-- Undoes 0023_delivery_leases.sql: the nodes of a cluster no longer record which of them delivers for which webhook endpoint or integration (unused on SQLite: one server holds the store).
DROP TABLE `delivery_leases`;
