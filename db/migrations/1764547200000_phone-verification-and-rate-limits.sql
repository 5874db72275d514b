-- Identity: one-time codes that prove a phone before its user exists (stored only as HMACs), the
-- counters of the rate limiter shared by every API instance (rate-limiter-flexible's table), and what a
-- user sees of their sessions (an id to name one by, last use, client address and user agent).

-- Up Migration

-- The role is normally made by 1764460800001; roles belong to the whole cluster, so make sure.
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'zenpay_app') THEN
    CREATE ROLE zenpay_app NOLOGIN;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

CREATE TABLE phone_verifications (
  id             uuid PRIMARY KEY,
  phone          text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
  -- HMAC-SHA256 of the code under the server's key: the table alone cannot tell a code.
  code_hash      bytea NOT NULL CHECK (octet_length(code_hash) = 32),
  -- Every try counts, right or wrong; at the maximum the verification is dead.
  attempts       integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  client_address text CHECK (char_length(client_address) <= 64),
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL,
  consumed_at    timestamptz,
  CONSTRAINT phone_verifications_expiry CHECK (expires_at > created_at)
);
CREATE INDEX phone_verifications_phone ON phone_verifications (phone, created_at);
CREATE INDEX phone_verifications_expires_at ON phone_verifications (expires_at);
GRANT SELECT, INSERT, UPDATE ON phone_verifications TO zenpay_app;

-- rate-limiter-flexible's RateLimiterPostgres table (the library is told it exists: the application's
-- role cannot create tables). key is "<limit>:<subject>"; expire is epoch milliseconds.
CREATE TABLE rate_limits (
  key    varchar(255) PRIMARY KEY,
  points integer NOT NULL DEFAULT 0,
  expire bigint
);
CREATE INDEX rate_limits_expire ON rate_limits (expire);
GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limits TO zenpay_app;

ALTER TABLE sessions
  ADD COLUMN id             uuid NOT NULL DEFAULT gen_random_uuid(),
  ADD COLUMN last_used_at   timestamptz,
  ADD COLUMN client_address text CHECK (char_length(client_address) <= 64),
  ADD COLUMN user_agent     text CHECK (char_length(user_agent) <= 256);
ALTER TABLE sessions ADD CONSTRAINT sessions_id_key UNIQUE (id);
CREATE INDEX sessions_user_active ON sessions (user_id, created_at DESC) WHERE revoked_at IS NULL;

-- Down Migration

DROP INDEX sessions_user_active;
ALTER TABLE sessions DROP CONSTRAINT sessions_id_key;
ALTER TABLE sessions DROP COLUMN user_agent, DROP COLUMN client_address, DROP COLUMN last_used_at, DROP COLUMN id;
DROP TABLE rate_limits;
DROP TABLE phone_verifications;
