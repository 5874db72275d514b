-- The database guards the ledger: every ledger step (on-ramp credit, hold, post, void, end) is one
-- SECURITY DEFINER function that checks, moves and records events in one round trip; the application
-- connects as zenpay_app, which can read everything but cannot write balances, transfers or
-- transaction statuses any other way; a final status is final in the database, not only in code.

-- Up Migration

-- Roles belong to the whole cluster, so another database may have made it already (even right now).
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'zenpay_app') THEN
    CREATE ROLE zenpay_app NOLOGIN;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

-- What was asked never changes, and a final status is final (COMPLETED, FAILED, EXPIRED).
CREATE FUNCTION transactions_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'transactions are never deleted (%)', OLD.id USING ERRCODE = 'restrict_violation';
  END IF;
  IF OLD.status IN ('COMPLETED', 'FAILED', 'EXPIRED')
     AND (NEW.status IS DISTINCT FROM OLD.status OR NEW.failure_code IS DISTINCT FROM OLD.failure_code) THEN
    RAISE EXCEPTION 'transaction % is % and final', OLD.id, OLD.status USING ERRCODE = 'restrict_violation';
  END IF;
  IF (NEW.id, NEW.seq, NEW.kind, NEW.user_id, NEW.counterparty_user_id, NEW.amount, NEW.currency, NEW.note,
      NEW.idempotency_key, NEW.request_fingerprint, NEW.bank, NEW.bank_account, NEW.created_at)
     IS DISTINCT FROM
     (OLD.id, OLD.seq, OLD.kind, OLD.user_id, OLD.counterparty_user_id, OLD.amount, OLD.currency, OLD.note,
      OLD.idempotency_key, OLD.request_fingerprint, OLD.bank, OLD.bank_account, OLD.created_at) THEN
    RAISE EXCEPTION 'transaction % : what was asked never changes', OLD.id USING ERRCODE = 'restrict_violation';
  END IF;
  IF OLD.bank_payment_id IS NOT NULL AND NEW.bank_payment_id IS DISTINCT FROM OLD.bank_payment_id THEN
    RAISE EXCEPTION 'transaction % : its bank object never changes', OLD.id USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER transactions_guard BEFORE UPDATE OR DELETE ON transactions
  FOR EACH ROW EXECUTE FUNCTION transactions_guard();

-- The ledger transfer id of a transaction's leg, the same derivation as ledgerTransferId in
-- db/ledger.ts: SHA-256 of "zenpay-ledger:<id>:<leg>" shaped as a version 8 UUID.
CREATE FUNCTION zp_ledger_transfer_id(p_transaction_id uuid, p_leg text) RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT encode(set_byte(set_byte(substring(d FROM 1 FOR 16), 6, (get_byte(d, 6) & 15) | 128), 8, (get_byte(d, 8) & 63) | 128), 'hex')::uuid
  FROM (SELECT sha256(convert_to('zenpay-ledger:' || p_transaction_id::text || ':' || p_leg, 'UTF8')) AS d) AS digest
$$;

-- A bank's clearing account, created on first use (a concurrent creator's row is seen by the next
-- statement, which takes a new snapshot).
CREATE FUNCTION zp_clearing_account(p_bank text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  account bigint;
BEGIN
  INSERT INTO ledger_accounts (kind, code, debits_must_not_exceed_credits)
  VALUES ('bank_clearing', 'bank_clearing:' || p_bank, false) ON CONFLICT (code) DO NOTHING RETURNING id INTO account;
  IF account IS NULL THEN
    SELECT id INTO account FROM ledger_accounts WHERE code = 'bank_clearing:' || p_bank;
  END IF;
  RETURN account;
END $$;

CREATE FUNCTION zp_wallet_account(p_user_id uuid) RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT id FROM ledger_accounts WHERE user_id = p_user_id
$$;

-- Locks a transaction of the expected kind, or raises (a bug: retrying cannot help).
CREATE FUNCTION zp_lock_transaction(p_id uuid, p_kind text) RETURNS transactions LANGUAGE plpgsql AS $$
DECLARE
  t transactions%ROWTYPE;
BEGIN
  SELECT * INTO t FROM transactions WHERE id = p_id FOR UPDATE;
  IF NOT FOUND THEN RAISE EXCEPTION 'transaction % does not exist', p_id USING ERRCODE = 'no_data_found'; END IF;
  IF t.kind <> p_kind THEN RAISE EXCEPTION 'transaction % is a %, not %', t.id, t.kind, p_kind USING ERRCODE = 'wrong_object_type'; END IF;
  RETURN t;
END $$;

-- Sets a locked transaction's status with the events of its parties and wallet events for p_wallet_users.
CREATE FUNCTION zp_set_status(p_id uuid, p_status text, p_failure_code text, p_wallet_users uuid[])
RETURNS transactions LANGUAGE plpgsql AS $$
DECLARE
  t transactions%ROWTYPE;
BEGIN
  UPDATE transactions SET status = p_status, failure_code = p_failure_code, updated_at = clock_timestamp()
  WHERE id = p_id RETURNING * INTO t;
  PERFORM zp_append_events(t.id, zp_parties(t), p_wallet_users);
  RETURN t;
END $$;

-- Raises unless a ledger step did what it had to (created now, or by an earlier try).
CREATE FUNCTION zp_expect_created(p_result text, p_step text, p_transaction_id uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF p_result NOT IN ('created', 'exists') THEN
    RAISE EXCEPTION 'ledger step % of % failed: %', p_step, p_transaction_id, p_result USING ERRCODE = 'internal_error';
  END IF;
END $$;

-- A step on the bank's confirmed word names the bank's object: it must be the transaction's own; a
-- transaction whose processing stopped before recording it (found at the bank by reference) adopts it.
CREATE FUNCTION zp_adopt_bank_object(t transactions, p_bank_object_id text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF t.bank_payment_id IS NULL THEN
    UPDATE transactions SET bank_payment_id = p_bank_object_id WHERE id = t.id;
  ELSIF t.bank_payment_id <> p_bank_object_id THEN
    RAISE EXCEPTION 'transaction %: bank object % is not its own (%)', t.id, p_bank_object_id, t.bank_payment_id USING ERRCODE = 'check_violation';
  END IF;
END $$;

-- An ON_RAMP or OFF_RAMP reached the bank: AWAITING_BANK with the bank's id, page and deadline (once).
CREATE FUNCTION zp_record_awaiting_bank(p_id uuid, p_kind text, p_bank_object_id text, p_redirect_url text, p_deadline timestamptz)
RETURNS SETOF transactions LANGUAGE plpgsql AS $$
DECLARE
  t transactions%ROWTYPE := zp_lock_transaction(p_id, p_kind);
BEGIN
  IF t.status = 'PENDING' THEN
    UPDATE transactions SET status = 'AWAITING_BANK', bank_payment_id = p_bank_object_id, bank_redirect_url = p_redirect_url,
      bank_deadline_at = p_deadline, updated_at = clock_timestamp()
    WHERE id = p_id RETURNING * INTO t;
    PERFORM zp_append_events(t.id, zp_parties(t), '{}');
  END IF;
  RETURN NEXT t;
END $$;

-- Credits an ON_RAMP the bank confirmed: one transfer from the bank's clearing account to the wallet,
-- COMPLETED. The confirmed bank object and amount must be the transaction's own.
CREATE FUNCTION zp_credit_on_ramp(p_id uuid, p_bank_object_id text, p_amount bigint)
RETURNS TABLE (outcome_status text, outcome_failure_code text) LANGUAGE plpgsql AS $$
DECLARE
  t transactions%ROWTYPE := zp_lock_transaction(p_id, 'ON_RAMP');
BEGIN
  IF t.status NOT IN ('COMPLETED', 'FAILED', 'EXPIRED') THEN
    IF t.amount <> p_amount THEN
      RAISE EXCEPTION 'on-ramp %: % is not its amount', t.id, p_amount USING ERRCODE = 'check_violation';
    END IF;
    PERFORM zp_adopt_bank_object(t, p_bank_object_id);
    PERFORM zp_expect_created(ledger_create_transfer(zp_ledger_transfer_id(t.id, 'credit'), 'posted',
      zp_clearing_account(t.bank), zp_wallet_account(t.user_id), t.amount, NULL, t.id), 'credit', t.id);
    t := zp_set_status(t.id, 'COMPLETED', NULL, ARRAY[t.user_id]);
  END IF;
  RETURN QUERY SELECT t.status, t.failure_code;
END $$;

-- Holds an OFF_RAMP's amount (a pending transfer). Returns PENDING when held, or FAILED with
-- INSUFFICIENT_FUNDS, or the final status of an earlier end.
CREATE FUNCTION zp_hold_withdrawal(p_id uuid)
RETURNS TABLE (outcome_status text, outcome_failure_code text) LANGUAGE plpgsql AS $$
DECLARE
  t transactions%ROWTYPE := zp_lock_transaction(p_id, 'OFF_RAMP');
  result text;
BEGIN
  IF t.status NOT IN ('COMPLETED', 'FAILED', 'EXPIRED') THEN
    result := ledger_create_transfer(zp_ledger_transfer_id(t.id, 'hold'), 'pending',
      zp_wallet_account(t.user_id), zp_clearing_account(t.bank), t.amount, NULL, t.id);
    IF result = 'exceeds_credits' THEN
      t := zp_set_status(t.id, 'FAILED', 'INSUFFICIENT_FUNDS', '{}');
    ELSE
      PERFORM zp_expect_created(result, 'hold', t.id);
      IF result = 'created' THEN PERFORM zp_append_events(t.id, '{}', ARRAY[t.user_id]); END IF;
    END IF;
  END IF;
  RETURN QUERY SELECT t.status, t.failure_code;
END $$;

-- Voids an OFF_RAMP's hold if there is one (money back to available); true when it voided now.
CREATE FUNCTION zp_void_hold(t transactions) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  result text;
BEGIN
  result := ledger_create_transfer(zp_ledger_transfer_id(t.id, 'void'), 'void_pending', NULL, NULL, NULL,
    zp_ledger_transfer_id(t.id, 'hold'), t.id);
  IF result IN ('pending_not_found', 'exists') THEN RETURN false; END IF;
  PERFORM zp_expect_created(result, 'void', t.id);
  RETURN true;
END $$;

-- Ends a held OFF_RAMP on the bank's confirmed word: paid out (post the hold, COMPLETED) or not
-- (void it, FAILED with BANK_DECLINED).
CREATE FUNCTION zp_settle_withdrawal(p_id uuid, p_bank_object_id text, p_decision text)
RETURNS TABLE (outcome_status text, outcome_failure_code text) LANGUAGE plpgsql AS $$
DECLARE
  t transactions%ROWTYPE := zp_lock_transaction(p_id, 'OFF_RAMP');
BEGIN
  IF p_decision NOT IN ('succeeded', 'failed') THEN
    RAISE EXCEPTION 'settlement of %: % is not a decision', p_id, p_decision USING ERRCODE = 'check_violation';
  END IF;
  IF t.status NOT IN ('COMPLETED', 'FAILED', 'EXPIRED') THEN
    PERFORM zp_adopt_bank_object(t, p_bank_object_id);
    IF p_decision = 'succeeded' THEN
      PERFORM zp_expect_created(ledger_create_transfer(zp_ledger_transfer_id(t.id, 'post'), 'post_pending', NULL, NULL, NULL,
        zp_ledger_transfer_id(t.id, 'hold'), t.id), 'post', t.id);
      t := zp_set_status(t.id, 'COMPLETED', NULL, ARRAY[t.user_id]);
    ELSE
      PERFORM zp_void_hold(t);
      t := zp_set_status(t.id, 'FAILED', 'BANK_DECLINED', ARRAY[t.user_id]);
    END IF;
  END IF;
  RETURN QUERY SELECT t.status, t.failure_code;
END $$;

-- Ends an ON_RAMP or OFF_RAMP with no money moved (FAILED or EXPIRED with a code), voiding any hold.
CREATE FUNCTION zp_end_transaction(p_id uuid, p_status text, p_failure_code text)
RETURNS TABLE (outcome_status text, outcome_failure_code text) LANGUAGE plpgsql AS $$
DECLARE
  t transactions%ROWTYPE;
  voided boolean := false;
BEGIN
  SELECT * INTO t FROM transactions WHERE id = p_id FOR UPDATE;
  IF NOT FOUND THEN RAISE EXCEPTION 'transaction % does not exist', p_id USING ERRCODE = 'no_data_found'; END IF;
  IF p_status NOT IN ('FAILED', 'EXPIRED') OR p_failure_code IS NULL THEN
    RAISE EXCEPTION 'end of %: % % is not an end without money', p_id, p_status, p_failure_code USING ERRCODE = 'check_violation';
  END IF;
  IF t.status NOT IN ('COMPLETED', 'FAILED', 'EXPIRED') THEN
    IF t.kind = 'OFF_RAMP' THEN voided := zp_void_hold(t); END IF;
    t := zp_set_status(t.id, p_status, p_failure_code, CASE WHEN voided THEN ARRAY[t.user_id] ELSE '{}'::uuid[] END);
  END IF;
  RETURN QUERY SELECT t.status, t.failure_code;
END $$;

-- Money the bank took for an on-ramp that ended without crediting it goes back: one refund per
-- transaction, its progress visible to the user (a transaction event on each change).
CREATE TABLE bank_refunds (
  transaction_id  uuid PRIMARY KEY REFERENCES transactions (id),
  bank_payment_id text NOT NULL,
  bank_refund_id  text,
  amount          bigint NOT NULL CHECK (amount > 0),
  status          text NOT NULL CHECK (status IN ('requested', 'pending', 'succeeded', 'failed')),
  reason          text NOT NULL CHECK (char_length(reason) <= 200),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION zp_record_refund(p_transaction_id uuid, p_bank_payment_id text, p_bank_refund_id text, p_status text, p_reason text)
RETURNS bank_refunds LANGUAGE plpgsql AS $$
DECLARE
  t transactions%ROWTYPE := zp_lock_transaction(p_transaction_id, 'ON_RAMP');
  r bank_refunds%ROWTYPE;
BEGIN
  IF t.status NOT IN ('FAILED', 'EXPIRED') THEN
    RAISE EXCEPTION 'on-ramp % is %: only an on-ramp that ended without credit is refunded', t.id, t.status USING ERRCODE = 'check_violation';
  END IF;
  PERFORM zp_adopt_bank_object(t, p_bank_payment_id);
  INSERT INTO bank_refunds (transaction_id, bank_payment_id, bank_refund_id, amount, status, reason)
  VALUES (t.id, p_bank_payment_id, p_bank_refund_id, t.amount, p_status, p_reason)
  ON CONFLICT (transaction_id) DO UPDATE SET
    bank_refund_id = COALESCE(bank_refunds.bank_refund_id, EXCLUDED.bank_refund_id),
    -- A decided refund stays decided.
    status = CASE WHEN bank_refunds.status IN ('succeeded', 'failed') THEN bank_refunds.status ELSE EXCLUDED.status END,
    updated_at = now()
  RETURNING * INTO r;
  UPDATE transactions SET updated_at = clock_timestamp() WHERE id = t.id;
  PERFORM zp_append_events(t.id, zp_parties(t), '{}');
  RETURN r;
END $$;

-- A new user's wallet and event stream.
CREATE FUNCTION zp_open_wallet(p_user_id uuid) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  account bigint;
BEGIN
  INSERT INTO ledger_accounts (kind, user_id, debits_must_not_exceed_credits) VALUES ('wallet', p_user_id, true)
  RETURNING id INTO account;
  INSERT INTO event_streams (user_id) VALUES (p_user_id);
  RETURN account;
END $$;

-- Deletes events older than the retention (at most p_batch_max), remembering per user the highest
-- seq deleted so that a resume from before it is told to refetch.
CREATE FUNCTION zp_prune_events(p_older_than timestamptz, p_batch_max integer) RETURNS integer LANGUAGE sql AS $$
  WITH doomed AS (
    SELECT user_id, seq FROM events WHERE created_at < p_older_than ORDER BY created_at LIMIT p_batch_max),
  deleted AS (
    DELETE FROM events e USING doomed d WHERE e.user_id = d.user_id AND e.seq = d.seq RETURNING e.user_id, e.seq),
  marked AS (
    UPDATE event_streams s SET pruned_through_seq = GREATEST(s.pruned_through_seq, m.max_seq)
    FROM (SELECT user_id, max(seq) AS max_seq FROM deleted GROUP BY user_id) m
    WHERE s.user_id = m.user_id)
  SELECT count(*)::integer FROM deleted
$$;

-- Every function runs with its owner's rights only where granted below; nothing else is callable.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC;
DO $$
DECLARE
  entry text;
BEGIN
  FOREACH entry IN ARRAY ARRAY[
    'zp_submit_transaction(uuid, text, uuid, uuid, bigint, text, text, bytea, text, text)',
    'zp_post_transfer(uuid, uuid)',
    'zp_record_awaiting_bank(uuid, text, text, text, timestamptz)',
    'zp_credit_on_ramp(uuid, text, bigint)',
    'zp_hold_withdrawal(uuid)',
    'zp_settle_withdrawal(uuid, text, text)',
    'zp_end_transaction(uuid, text, text)',
    'zp_record_refund(uuid, text, text, text, text)',
    'zp_open_wallet(uuid)',
    'zp_prune_events(timestamptz, integer)'
  ] LOOP
    EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = public, pg_temp', entry);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO zenpay_app', entry);
  END LOOP;
END $$;
GRANT EXECUTE ON FUNCTION zp_ledger_transfer_id(uuid, text) TO zenpay_app;

GRANT USAGE ON SCHEMA public TO zenpay_app;
GRANT SELECT ON users, sessions, ledger_accounts, ledger_transfers, transactions, event_streams, events,
  bank_webhooks, bank_refunds, security_events TO zenpay_app;
GRANT INSERT, UPDATE ON users, sessions, bank_webhooks TO zenpay_app;
GRANT INSERT ON security_events TO zenpay_app;

-- Down Migration

REVOKE ALL ON users, sessions, ledger_accounts, ledger_transfers, transactions, event_streams, events,
  bank_webhooks, bank_refunds, security_events FROM zenpay_app;
REVOKE USAGE ON SCHEMA public FROM zenpay_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO PUBLIC;
DROP FUNCTION zp_prune_events(timestamptz, integer);
DROP FUNCTION zp_open_wallet(uuid);
DROP FUNCTION zp_record_refund(uuid, text, text, text, text);
DROP TABLE bank_refunds;
DROP FUNCTION zp_end_transaction(uuid, text, text);
DROP FUNCTION zp_settle_withdrawal(uuid, text, text);
DROP FUNCTION zp_void_hold(transactions);
DROP FUNCTION zp_hold_withdrawal(uuid);
DROP FUNCTION zp_credit_on_ramp(uuid, text, bigint);
DROP FUNCTION zp_record_awaiting_bank(uuid, text, text, text, timestamptz);
DROP FUNCTION zp_adopt_bank_object(transactions, text);
DROP FUNCTION zp_expect_created(text, text, uuid);
DROP FUNCTION zp_set_status(uuid, text, text, uuid[]);
DROP FUNCTION zp_lock_transaction(uuid, text);
DROP FUNCTION zp_wallet_account(uuid);
DROP FUNCTION zp_clearing_account(text);
DROP FUNCTION zp_ledger_transfer_id(uuid, text);
DROP TRIGGER transactions_guard ON transactions;
DROP FUNCTION transactions_guard();
