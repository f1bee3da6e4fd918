-- Undoes 0000_nodes.sql.
DROP TABLE `nodes`;
