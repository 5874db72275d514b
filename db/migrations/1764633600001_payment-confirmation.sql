-- Step-up confirmation of payments: a payment above a threshold, to a new payee or to a new bank
-- account waits in AWAITING_CONFIRMATION with a challenge bound to a digest of what was asked (kind,
-- amount, currency, recipient or bank account, idempotency key) until the user confirms it with a
-- second factor; the ledger refuses to move its money before that.

-- Up Migration

ALTER TABLE transactions DROP CONSTRAINT transactions_status_check;
ALTER TABLE transactions ADD CONSTRAINT transactions_status_check
  CHECK (status IN ('PENDING', 'AWAITING_CONFIRMATION', 'AWAITING_BANK', 'COMPLETED', 'FAILED', 'EXPIRED'));
DROP INDEX transactions_unfinished;
CREATE INDEX transactions_unfinished ON transactions (status, created_at)
  WHERE status IN ('PENDING', 'AWAITING_CONFIRMATION', 'AWAITING_BANK');

-- What a confirmation is bound to: everything that defines the payment.
CREATE FUNCTION zp_payment_digest(t transactions) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT sha256(convert_to(concat_ws('|', 'zenpay-payment-confirmation', t.kind, t.amount::text, t.currency,
    coalesce(t.counterparty_user_id::text, ''), coalesce(t.bank, ''), coalesce(t.bank_account, ''), t.idempotency_key), 'UTF8'))
$$;

CREATE TABLE payment_challenges (
  transaction_id uuid PRIMARY KEY REFERENCES transactions (id),
  digest         bytea NOT NULL CHECK (octet_length(digest) = 32),
  method         text NOT NULL CHECK (method IN ('TOTP', 'SMS')),
  -- SMS: HMAC of "<transaction id>:<code>" under the server's code key; TOTP: the API verifies the code.
  code_hash      bytea CHECK (octet_length(code_hash) = 32),
  attempts       integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  attempts_max   integer NOT NULL CHECK (attempts_max BETWEEN 1 AND 20),
  expires_at     timestamptz NOT NULL,
  confirmed_at   timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT payment_challenges_code CHECK ((method = 'SMS') = (code_hash IS NOT NULL))
);

-- Records a new transaction (PENDING, or AWAITING_CONFIRMATION with its challenge when p_confirm_method
-- is set) with its first events, or returns the one this user made earlier with the same key.
CREATE FUNCTION zp_submit_payment(
  p_id uuid, p_kind text, p_user_id uuid, p_counterparty_user_id uuid, p_amount bigint, p_note text,
  p_idempotency_key text, p_request_fingerprint bytea, p_bank text, p_bank_account text,
  p_confirm_method text, p_code_hash bytea, p_confirm_within_seconds integer, p_attempts_max integer
) RETURNS SETOF transactions LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  t transactions%ROWTYPE;
BEGIN
  INSERT INTO transactions (id, kind, status, user_id, counterparty_user_id, amount, note, idempotency_key,
    request_fingerprint, bank, bank_account)
  VALUES (p_id, p_kind, CASE WHEN p_confirm_method IS NULL THEN 'PENDING' ELSE 'AWAITING_CONFIRMATION' END, p_user_id,
    p_counterparty_user_id, p_amount, p_note, p_idempotency_key, p_request_fingerprint, p_bank, p_bank_account)
  ON CONFLICT (user_id, idempotency_key) DO NOTHING
  RETURNING * INTO t;
  IF FOUND THEN
    IF p_confirm_method IS NOT NULL THEN
      INSERT INTO payment_challenges (transaction_id, digest, method, code_hash, attempts_max, expires_at)
      VALUES (t.id, zp_payment_digest(t), p_confirm_method, p_code_hash, p_attempts_max,
        now() + make_interval(secs => p_confirm_within_seconds));
    END IF;
    PERFORM zp_append_events(t.id, zp_parties(t), '{}');
    RETURN NEXT t;
    RETURN;
  END IF;
  RETURN QUERY SELECT * FROM transactions WHERE user_id = p_user_id AND idempotency_key = p_idempotency_key;
END $$;

-- Confirms a payment waiting for its user: p_verified says the API checked a TOTP code; an SMS code's
-- hash is checked here. Answers 'confirmed', 'wrong' (attempts left), 'failed' (no attempt left: the
-- payment ends FAILED, releasing any hold), 'expired', 'not_awaiting' or 'not_found'.
CREATE FUNCTION zp_confirm_payment(p_id uuid, p_user_id uuid, p_verified boolean, p_code_hash bytea)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  t transactions%ROWTYPE;
  c payment_challenges%ROWTYPE;
  right_code boolean;
BEGIN
  SELECT * INTO t FROM transactions WHERE id = p_id AND user_id = p_user_id FOR UPDATE;
  IF NOT FOUND THEN RETURN 'not_found'; END IF;
  SELECT * INTO c FROM payment_challenges WHERE transaction_id = t.id FOR UPDATE;
  IF NOT FOUND THEN RETURN 'not_found'; END IF;
  IF t.status <> 'AWAITING_CONFIRMATION' THEN RETURN 'not_awaiting'; END IF;
  IF c.expires_at <= now() THEN RETURN 'expired'; END IF;
  -- The payment is still exactly what was challenged (defence in depth: the row is immutable too).
  IF c.digest <> zp_payment_digest(t) THEN
    RAISE EXCEPTION 'payment % changed since its challenge', t.id USING ERRCODE = 'check_violation';
  END IF;
  right_code := CASE WHEN c.method = 'SMS' THEN c.code_hash = p_code_hash ELSE coalesce(p_verified, false) END;
  IF NOT right_code THEN
    UPDATE payment_challenges SET attempts = attempts + 1 WHERE transaction_id = t.id RETURNING * INTO c;
    IF c.attempts >= c.attempts_max THEN
      PERFORM zp_end_transaction(t.id, 'FAILED', 'CONFIRMATION_FAILED');
      RETURN 'failed';
    END IF;
    RETURN 'wrong';
  END IF;
  UPDATE payment_challenges SET confirmed_at = now() WHERE transaction_id = t.id;
  UPDATE transactions SET status = 'PENDING', updated_at = clock_timestamp() WHERE id = t.id RETURNING * INTO t;
  PERFORM zp_append_events(t.id, zp_parties(t), '{}');
  RETURN 'confirmed';
END $$;

-- The challenge ran out: a payment still waiting ends EXPIRED with CONFIRMATION_EXPIRED (releasing any
-- hold); one confirmed a moment before goes on. Returns the status after.
CREATE FUNCTION zp_expire_confirmation(p_id uuid)
RETURNS TABLE (outcome_status text, outcome_failure_code text) LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  t transactions%ROWTYPE;
BEGIN
  SELECT * INTO t FROM transactions WHERE id = p_id FOR UPDATE;
  IF NOT FOUND THEN RAISE EXCEPTION 'transaction % does not exist', p_id USING ERRCODE = 'no_data_found'; END IF;
  IF t.status = 'AWAITING_CONFIRMATION' THEN
    RETURN QUERY SELECT * FROM zp_end_transaction(t.id, 'EXPIRED', 'CONFIRMATION_EXPIRED');
    RETURN;
  END IF;
  RETURN QUERY SELECT t.status, t.failure_code;
END $$;

-- A TRANSFER waiting for its user's confirmation moves nothing, whoever asks.
CREATE OR REPLACE FUNCTION zp_post_transfer(p_transaction_id uuid, p_transfer_id uuid)
RETURNS TABLE (outcome_status text, outcome_failure_code text) LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  t transactions%ROWTYPE;
  source_account bigint;
  target_account bigint;
  result text;
BEGIN
  SELECT * INTO t FROM transactions WHERE id = p_transaction_id FOR UPDATE;
  IF NOT FOUND THEN RAISE EXCEPTION 'transaction % does not exist', p_transaction_id USING ERRCODE = 'no_data_found'; END IF;
  IF t.kind <> 'TRANSFER' THEN RAISE EXCEPTION 'transaction % is a %', t.id, t.kind USING ERRCODE = 'wrong_object_type'; END IF;
  IF t.status IN ('COMPLETED', 'FAILED', 'EXPIRED', 'AWAITING_CONFIRMATION') THEN
    RETURN QUERY SELECT t.status, t.failure_code;
    RETURN;
  END IF;
  SELECT id INTO source_account FROM ledger_accounts WHERE user_id = t.user_id;
  SELECT id INTO target_account FROM ledger_accounts WHERE user_id = t.counterparty_user_id;
  result := ledger_create_transfer(p_transfer_id, 'posted', source_account, target_account, t.amount, NULL, t.id);
  IF result IN ('created', 'exists') THEN
    UPDATE transactions SET status = 'COMPLETED', updated_at = clock_timestamp() WHERE id = t.id RETURNING * INTO t;
    PERFORM zp_append_events(t.id, zp_parties(t), zp_parties(t));
  ELSIF result = 'exceeds_credits' THEN
    UPDATE transactions SET status = 'FAILED', failure_code = 'INSUFFICIENT_FUNDS', updated_at = clock_timestamp()
    WHERE id = t.id RETURNING * INTO t;
    PERFORM zp_append_events(t.id, zp_parties(t), '{}');
  ELSE
    RAISE EXCEPTION 'unexpected ledger result % for transaction %', result, t.id USING ERRCODE = 'internal_error';
  END IF;
  RETURN QUERY SELECT t.status, t.failure_code;
END $$;

REVOKE EXECUTE ON FUNCTION zp_payment_digest(transactions) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION zp_submit_payment(uuid, text, uuid, uuid, bigint, text, text, bytea, text, text, text, bytea, integer, integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION zp_confirm_payment(uuid, uuid, boolean, bytea) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION zp_expire_confirmation(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION zp_submit_payment(uuid, text, uuid, uuid, bigint, text, text, bytea, text, text, text, bytea, integer, integer) TO zenpay_app;
GRANT EXECUTE ON FUNCTION zp_confirm_payment(uuid, uuid, boolean, bytea) TO zenpay_app;
GRANT EXECUTE ON FUNCTION zp_expire_confirmation(uuid) TO zenpay_app;
GRANT SELECT ON payment_challenges TO zenpay_app;

-- Down Migration

DROP FUNCTION zp_expire_confirmation(uuid);
DROP FUNCTION zp_confirm_payment(uuid, uuid, boolean, bytea);
DROP FUNCTION zp_submit_payment(uuid, text, uuid, uuid, bigint, text, text, bytea, text, text, text, bytea, integer, integer);
DROP TABLE payment_challenges;
DROP FUNCTION zp_payment_digest(transactions);
DROP INDEX transactions_unfinished;
CREATE INDEX transactions_unfinished ON transactions (status, created_at) WHERE status IN ('PENDING', 'AWAITING_BANK');
ALTER TABLE transactions DROP CONSTRAINT transactions_status_check;
ALTER TABLE transactions ADD CONSTRAINT transactions_status_check
  CHECK (status IN ('PENDING', 'AWAITING_BANK', 'COMPLETED', 'FAILED', 'EXPIRED'));
