-- ZenPAY's first schema: users and sessions, the double-entry ledger (TigerBeetle-style balances),
-- business transactions, and the per-user event stream (transactional outbox).

-- Up Migration

CREATE TABLE users (
  id            uuid PRIMARY KEY,
  phone         text NOT NULL UNIQUE CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
  name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
  password_hash text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- Only a hash of each session token is stored: a leaked table gives no usable token.
CREATE TABLE sessions (
  token_hash bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
  user_id    uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- Accounts keep TigerBeetle's four balance fields. A numeric id gives every transaction one global
-- lock order (ascending id). The sum over all accounts of credits minus debits is always zero.
CREATE TABLE ledger_accounts (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind            text NOT NULL CHECK (kind IN ('wallet', 'bank_clearing', 'test_funding')),
  user_id         uuid UNIQUE REFERENCES users (id),
  code            text UNIQUE,
  currency        text NOT NULL DEFAULT 'INR' CHECK (currency = 'INR'),
  debits_pending  bigint NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
  debits_posted   bigint NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
  credits_pending bigint NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
  credits_posted  bigint NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
  debits_must_not_exceed_credits boolean NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ledger_accounts_owner CHECK ((kind = 'wallet') = (user_id IS NOT NULL) AND (kind = 'wallet') = (code IS NULL)),
  -- A wallet can never go negative, whatever the code above the database does.
  CONSTRAINT ledger_accounts_wallet_limited CHECK (kind <> 'wallet' OR debits_must_not_exceed_credits),
  CONSTRAINT ledger_accounts_debits_within_credits
    CHECK (NOT debits_must_not_exceed_credits OR debits_posted + debits_pending <= credits_posted)
);

CREATE TABLE transactions (
  id                   uuid PRIMARY KEY,
  seq                  bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  kind                 text NOT NULL CHECK (kind IN ('TRANSFER', 'ON_RAMP', 'OFF_RAMP')),
  status               text NOT NULL CHECK (status IN ('PENDING', 'AWAITING_BANK', 'COMPLETED', 'FAILED', 'EXPIRED')),
  user_id              uuid NOT NULL REFERENCES users (id),
  counterparty_user_id uuid REFERENCES users (id),
  amount               bigint NOT NULL CHECK (amount > 0),
  currency             text NOT NULL DEFAULT 'INR' CHECK (currency = 'INR'),
  note                 text CHECK (char_length(note) <= 140),
  idempotency_key      text NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
  request_fingerprint  bytea NOT NULL,
  failure_code         text,
  bank                 text,
  bank_account         text,
  bank_payment_id      text,
  bank_redirect_url    text,
  bank_deadline_at     timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, idempotency_key),
  CONSTRAINT transactions_failure_code CHECK ((status IN ('FAILED', 'EXPIRED')) = (failure_code IS NOT NULL)),
  CONSTRAINT transactions_transfer_counterparty CHECK ((kind = 'TRANSFER') = (counterparty_user_id IS NOT NULL)),
  CONSTRAINT transactions_not_to_self CHECK (counterparty_user_id IS DISTINCT FROM user_id),
  CONSTRAINT transactions_bank CHECK ((kind = 'TRANSFER') = (bank IS NULL))
);
CREATE INDEX transactions_user_seq ON transactions (user_id, seq DESC);
CREATE INDEX transactions_counterparty_seq ON transactions (counterparty_user_id, seq DESC)
  WHERE counterparty_user_id IS NOT NULL;
CREATE INDEX transactions_unfinished ON transactions (status, created_at)
  WHERE status IN ('PENDING', 'AWAITING_BANK');

-- Every movement of money is one immutable row. Two-phase transfers (holds) are a 'pending' row
-- resolved later by exactly one 'post_pending' or 'void_pending' row that names it.
CREATE TABLE ledger_transfers (
  id                uuid PRIMARY KEY,
  debit_account_id  bigint NOT NULL REFERENCES ledger_accounts (id),
  credit_account_id bigint NOT NULL REFERENCES ledger_accounts (id),
  amount            bigint NOT NULL CHECK (amount > 0),
  kind              text NOT NULL CHECK (kind IN ('posted', 'pending', 'post_pending', 'void_pending')),
  pending_id        uuid REFERENCES ledger_transfers (id),
  transaction_id    uuid REFERENCES transactions (id),
  created_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ledger_transfers_distinct_accounts CHECK (debit_account_id <> credit_account_id),
  CONSTRAINT ledger_transfers_pending_reference
    CHECK ((kind IN ('post_pending', 'void_pending')) = (pending_id IS NOT NULL))
);
CREATE UNIQUE INDEX ledger_transfers_one_resolution ON ledger_transfers (pending_id) WHERE pending_id IS NOT NULL;
CREATE INDEX ledger_transfers_debit_account ON ledger_transfers (debit_account_id);
CREATE INDEX ledger_transfers_credit_account ON ledger_transfers (credit_account_id);
CREATE INDEX ledger_transfers_transaction ON ledger_transfers (transaction_id);

CREATE FUNCTION ledger_transfers_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger transfers are immutable (% of %)', TG_OP, OLD.id USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER ledger_transfers_immutable BEFORE UPDATE OR DELETE ON ledger_transfers
  FOR EACH ROW EXECUTE FUNCTION ledger_transfers_immutable();
CREATE TRIGGER ledger_transfers_no_truncate BEFORE TRUNCATE ON ledger_transfers
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_transfers_immutable();

-- Creates one transfer atomically and idempotently. Locks the two accounts in ascending id order,
-- then checks for an earlier transfer with the same id (a retry), so concurrent retries serialize.
-- Returns 'created', 'exists', 'exceeds_credits', 'pending_not_found' or 'pending_already_resolved'.
-- An id reused with different fields is a programming error and raises.
CREATE FUNCTION ledger_create_transfer(
  p_id uuid, p_kind text, p_debit_account_id bigint, p_credit_account_id bigint, p_amount bigint,
  p_pending_id uuid, p_transaction_id uuid
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  existing ledger_transfers%ROWTYPE;
  pending ledger_transfers%ROWTYPE;
  debit_account ledger_accounts%ROWTYPE;
BEGIN
  IF p_kind IN ('post_pending', 'void_pending') THEN
    SELECT * INTO pending FROM ledger_transfers WHERE id = p_pending_id AND kind = 'pending';
    IF NOT FOUND THEN RETURN 'pending_not_found'; END IF;
    p_debit_account_id := pending.debit_account_id;
    p_credit_account_id := pending.credit_account_id;
    p_amount := pending.amount;
  END IF;

  PERFORM 1 FROM ledger_accounts WHERE id IN (p_debit_account_id, p_credit_account_id) ORDER BY id FOR UPDATE;

  SELECT * INTO existing FROM ledger_transfers WHERE id = p_id;
  IF FOUND THEN
    IF existing.kind <> p_kind OR existing.debit_account_id <> p_debit_account_id
       OR existing.credit_account_id <> p_credit_account_id OR existing.amount <> p_amount
       OR existing.pending_id IS DISTINCT FROM p_pending_id THEN
      RAISE EXCEPTION 'ledger transfer id % reused with different fields', p_id USING ERRCODE = 'unique_violation';
    END IF;
    RETURN 'exists';
  END IF;

  IF p_kind IN ('post_pending', 'void_pending') THEN
    IF EXISTS (SELECT 1 FROM ledger_transfers WHERE pending_id = p_pending_id) THEN
      RETURN 'pending_already_resolved';
    END IF;
  ELSE
    SELECT * INTO debit_account FROM ledger_accounts WHERE id = p_debit_account_id;
    IF debit_account.debits_must_not_exceed_credits
       AND debit_account.debits_posted + debit_account.debits_pending + p_amount > debit_account.credits_posted THEN
      RETURN 'exceeds_credits';
    END IF;
  END IF;

  INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, kind, pending_id, transaction_id)
  VALUES (p_id, p_debit_account_id, p_credit_account_id, p_amount, p_kind, p_pending_id, p_transaction_id);

  IF p_kind = 'posted' THEN
    UPDATE ledger_accounts SET debits_posted = debits_posted + p_amount, updated_at = now() WHERE id = p_debit_account_id;
    UPDATE ledger_accounts SET credits_posted = credits_posted + p_amount, updated_at = now() WHERE id = p_credit_account_id;
  ELSIF p_kind = 'pending' THEN
    UPDATE ledger_accounts SET debits_pending = debits_pending + p_amount, updated_at = now() WHERE id = p_debit_account_id;
    UPDATE ledger_accounts SET credits_pending = credits_pending + p_amount, updated_at = now() WHERE id = p_credit_account_id;
  ELSIF p_kind = 'post_pending' THEN
    UPDATE ledger_accounts SET debits_pending = debits_pending - p_amount, debits_posted = debits_posted + p_amount,
      updated_at = now() WHERE id = p_debit_account_id;
    UPDATE ledger_accounts SET credits_pending = credits_pending - p_amount, credits_posted = credits_posted + p_amount,
      updated_at = now() WHERE id = p_credit_account_id;
  ELSE
    UPDATE ledger_accounts SET debits_pending = debits_pending - p_amount, updated_at = now() WHERE id = p_debit_account_id;
    UPDATE ledger_accounts SET credits_pending = credits_pending - p_amount, updated_at = now() WHERE id = p_credit_account_id;
  END IF;
  RETURN 'created';
END $$;

-- The transactional outbox: one ordered stream of events per user. The stream row is locked by the
-- transaction that appends, so seq order is commit order and a reader never skips a late commit.
CREATE TABLE event_streams (
  user_id            uuid PRIMARY KEY REFERENCES users (id),
  last_seq           bigint NOT NULL DEFAULT 0,
  pruned_through_seq bigint NOT NULL DEFAULT 0
);

CREATE TABLE events (
  user_id        uuid NOT NULL REFERENCES event_streams (user_id),
  seq            bigint NOT NULL,
  kind           text NOT NULL CHECK (kind IN ('transaction', 'wallet')),
  transaction_id uuid,
  payload        jsonb NOT NULL,
  -- The moment of writing (not the transaction's start), for delivery-latency figures.
  created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (user_id, seq)
);
CREATE INDEX events_created_at ON events (created_at);

-- Down Migration

DROP TABLE events;
DROP TABLE event_streams;
DROP TRIGGER ledger_transfers_no_truncate ON ledger_transfers;
DROP TRIGGER ledger_transfers_immutable ON ledger_transfers;
DROP FUNCTION ledger_create_transfer(uuid, text, bigint, bigint, bigint, uuid, uuid);
DROP FUNCTION ledger_transfers_immutable();
DROP TABLE ledger_transfers;
DROP TABLE transactions;
DROP TABLE ledger_accounts;
DROP TABLE sessions;
DROP TABLE users;
