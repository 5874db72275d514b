-- Writes that used to take a dozen round trips now take one: the outbox append, a transaction's
-- submission, and a TRANSFER's whole ledger step run inside PostgreSQL as functions.

-- Up Migration

-- Appends, for one transaction (or none), its status event for each of p_transaction_users and a
-- wallet event with the current balance for each of p_wallet_users. Streams are locked in ascending
-- user id order (the global order), and one NOTIFY names every event: "user:seq[:transaction]".
CREATE FUNCTION zp_append_events(p_transaction_id uuid, p_transaction_users uuid[], p_wallet_users uuid[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  t transactions%ROWTYPE;
  a ledger_accounts%ROWTYPE;
  member uuid;
  seq bigint;
  announced text[] := '{}';
  suffix text := CASE WHEN p_transaction_id IS NULL THEN '' ELSE ':' || p_transaction_id END;
BEGIN
  IF p_transaction_id IS NOT NULL THEN
    SELECT * INTO t FROM transactions WHERE id = p_transaction_id;
  END IF;
  FOR member IN SELECT DISTINCT u FROM unnest(p_transaction_users || p_wallet_users) AS u ORDER BY u LOOP
    IF member = ANY (p_transaction_users) THEN
      UPDATE event_streams SET last_seq = last_seq + 1 WHERE user_id = member RETURNING last_seq INTO seq;
      INSERT INTO events (user_id, seq, kind, transaction_id, payload)
      VALUES (member, seq, 'transaction', t.id, jsonb_build_object(
        'status', t.status, 'failureCode', t.failure_code, 'bankRedirectUrl', t.bank_redirect_url,
        'updatedAt', to_char(t.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')));
      announced := announced || (member || ':' || seq || suffix);
    END IF;
    IF member = ANY (p_wallet_users) THEN
      SELECT * INTO a FROM ledger_accounts WHERE user_id = member;
      UPDATE event_streams SET last_seq = last_seq + 1 WHERE user_id = member RETURNING last_seq INTO seq;
      INSERT INTO events (user_id, seq, kind, transaction_id, payload)
      VALUES (member, seq, 'wallet', p_transaction_id, jsonb_build_object(
        'available', (a.credits_posted - a.debits_posted - a.debits_pending)::text,
        'held', a.debits_pending::text,
        'updatedAt', to_char(a.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')));
      announced := announced || (member || ':' || seq || suffix);
    END IF;
  END LOOP;
  IF cardinality(announced) > 0 THEN
    -- NOTIFY payloads must stay under 8000 bytes; past that, name only the users.
    PERFORM pg_notify('zenpay_events', CASE
      WHEN length(array_to_string(announced, ',')) < 7900 THEN array_to_string(announced, ',')
      ELSE left(array_to_string(ARRAY(SELECT DISTINCT u::text FROM unnest(p_transaction_users || p_wallet_users) AS u), ','), 7900)
    END);
  END IF;
END $$;

-- The parties of a transaction: its user, and the counterparty of a TRANSFER.
CREATE FUNCTION zp_parties(t transactions) RETURNS uuid[] LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN t.counterparty_user_id IS NULL THEN ARRAY[t.user_id] ELSE ARRAY[t.user_id, t.counterparty_user_id] END
$$;

-- Records a new PENDING transaction with its first events, or returns the one this user made earlier
-- with the same idempotency key (created = false; the caller compares fingerprints).
-- The row comes back either way; it was created here when its id is p_id.
CREATE FUNCTION zp_submit_transaction(
  p_id uuid, p_kind text, p_user_id uuid, p_counterparty_user_id uuid, p_amount bigint, p_note text,
  p_idempotency_key text, p_request_fingerprint bytea, p_bank text, p_bank_account text
) RETURNS SETOF transactions LANGUAGE plpgsql AS $$
DECLARE
  t transactions%ROWTYPE;
BEGIN
  INSERT INTO transactions (id, kind, status, user_id, counterparty_user_id, amount, note, idempotency_key,
    request_fingerprint, bank, bank_account)
  VALUES (p_id, p_kind, 'PENDING', p_user_id, p_counterparty_user_id, p_amount, p_note, p_idempotency_key,
    p_request_fingerprint, p_bank, p_bank_account)
  ON CONFLICT (user_id, idempotency_key) DO NOTHING
  RETURNING * INTO t;
  IF FOUND THEN
    PERFORM zp_append_events(t.id, zp_parties(t), '{}');
    RETURN NEXT t;
    RETURN;
  END IF;
  RETURN QUERY SELECT * FROM transactions WHERE user_id = p_user_id AND idempotency_key = p_idempotency_key;
END $$;

-- A TRANSFER's ledger step, all or nothing: lock the transaction; if it is already final, return its
-- outcome (a retry); else post the ledger transfer p_transfer_id (derived from the transaction id by
-- the caller) and record COMPLETED, or FAILED with INSUFFICIENT_FUNDS, with the events of both sides.
CREATE FUNCTION zp_post_transfer(p_transaction_id uuid, p_transfer_id uuid)
RETURNS TABLE (outcome_status text, outcome_failure_code text) LANGUAGE plpgsql AS $$
DECLARE
  t transactions%ROWTYPE;
  source_account bigint;
  target_account bigint;
  result text;
BEGIN
  SELECT * INTO t FROM transactions WHERE id = p_transaction_id FOR UPDATE;
  IF NOT FOUND THEN RAISE EXCEPTION 'transaction % does not exist', p_transaction_id USING ERRCODE = 'no_data_found'; END IF;
  IF t.kind <> 'TRANSFER' THEN RAISE EXCEPTION 'transaction % is a %', t.id, t.kind USING ERRCODE = 'wrong_object_type'; END IF;
  IF t.status IN ('COMPLETED', 'FAILED', 'EXPIRED') THEN
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

-- Down Migration

DROP FUNCTION zp_post_transfer(uuid, uuid);
DROP FUNCTION zp_submit_transaction(uuid, text, uuid, uuid, bigint, text, text, bytea, text, text);
DROP FUNCTION zp_parties(transactions);
DROP FUNCTION zp_append_events(uuid, uuid[], uuid[]);
