-- Undoes 0002_debates.sql.
DROP TABLE `debate_receipts`;
DROP TABLE `debate_events`;
DROP TABLE `debate_participants`;
DROP TABLE `elo_ratings`;
DROP TABLE `debates`;
