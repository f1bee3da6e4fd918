-- Undoes 0009_oauth_identities.sql: accounts made by an OAuth sign-in stay, without a way to sign in
-- until a password is set (aragora users reset-password).
DROP TABLE "oauth_identities";
