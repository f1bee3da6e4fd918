-- Undoes 0014_invitations.sql: invitations to join an organisation.
DROP TABLE `invitations`;
