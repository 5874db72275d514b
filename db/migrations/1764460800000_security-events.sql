-- The security event log: every decision a defender wants to read back later (forged or denied bank
-- words, sign-ins and their failures, code sends, 2FA and session changes, fraud rules, operator
-- actions), with when, who, from where and the outcome. Rows are never changed, only pruned by age.

-- Up Migration

CREATE TABLE security_events (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  occurred_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- Dotted lower-case names, e.g. 'bank.claim_denied', 'auth.sign_in'.
  kind           text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$' AND char_length(kind) <= 64),
  outcome        text NOT NULL CHECK (outcome IN ('success', 'failure', 'denied', 'ignored', 'flagged')),
  -- The user concerned, when there is one (no foreign key: a failed sign-in may name no user).
  user_id        uuid,
  -- Who acted: 'user', 'bank-webhook', 'temporal-signal', 'operator:<name>', 'system'.
  actor          text NOT NULL CHECK (char_length(actor) BETWEEN 1 AND 128),
  client_address text CHECK (char_length(client_address) <= 64),
  -- What it was about: a transaction id, a bank object id, a phone number, a webhook id.
  subject        text CHECK (char_length(subject) <= 255),
  details        jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (pg_column_size(details) <= 8192)
);
CREATE INDEX security_events_occurred_at ON security_events (occurred_at);
CREATE INDEX security_events_user ON security_events (user_id, occurred_at) WHERE user_id IS NOT NULL;
CREATE INDEX security_events_kind ON security_events (kind, occurred_at);

CREATE FUNCTION security_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'security events are append-only (% of %)', TG_OP, OLD.id USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER security_events_append_only BEFORE UPDATE ON security_events
  FOR EACH ROW EXECUTE FUNCTION security_events_append_only();

-- Down Migration

DROP TRIGGER security_events_append_only ON security_events;
DROP FUNCTION security_events_append_only();
DROP TABLE security_events;
