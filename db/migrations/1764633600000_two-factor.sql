-- Two-factor authentication: each user's TOTP secret, encrypted (the server must read it to verify a
-- code, so it cannot be hashed), the last time step accepted (no code is accepted twice), and
-- single-use recovery codes, stored only as HMACs. Neither table holds anything usable in clear.

-- Up Migration

CREATE TABLE two_factor (
  user_id           uuid PRIMARY KEY REFERENCES users (id),
  -- AES-256-GCM under a subkey of TWO_FACTOR_ENCRYPTION_KEY, the user id as additional data:
  -- a 12-byte nonce, the 20-byte secret encrypted, the 16-byte tag.
  secret_ciphertext bytea NOT NULL CHECK (octet_length(secret_ciphertext) = 48),
  -- A code is accepted only for a time step after this one (one UPDATE ... WHERE last_step < step).
  last_step         bigint NOT NULL DEFAULT 0 CHECK (last_step >= 0),
  created_at        timestamptz NOT NULL DEFAULT now(),
  -- NULL while the enrolment waits for its first code; set once that code confirmed it.
  enabled_at        timestamptz,
  last_used_at      timestamptz
);

CREATE TABLE two_factor_recovery_codes (
  -- Removed with the user's two-factor (disabling it).
  user_id    uuid NOT NULL REFERENCES two_factor (user_id) ON DELETE CASCADE,
  -- HMAC-SHA256 of the code, bound to the user, under a subkey of TWO_FACTOR_ENCRYPTION_KEY.
  code_hash  bytea NOT NULL CHECK (octet_length(code_hash) = 32),
  created_at timestamptz NOT NULL DEFAULT now(),
  used_at    timestamptz,
  PRIMARY KEY (user_id, code_hash)
);

-- Enrolment upserts and confirms (INSERT ... ON CONFLICT DO UPDATE, UPDATE), verification moves
-- last_step (UPDATE), disabling deletes the row (its recovery codes go by the cascade). Recovery codes
-- are inserted once at confirmation and marked used, never changed otherwise.
GRANT SELECT, INSERT, UPDATE, DELETE ON two_factor TO zenpay_app;
GRANT SELECT, INSERT, UPDATE (used_at) ON two_factor_recovery_codes TO zenpay_app;

-- Down Migration

DROP TABLE two_factor_recovery_codes;
DROP TABLE two_factor;
