-- A TRANSFER's recipient learns of it only once money moved: zp_append_events writes the recipient's
-- transaction event only for COMPLETED (never for the sender's PENDING or FAILED attempts, whose
-- failure code and note are the sender's business). The sender's events are unchanged.

-- Up Migration

CREATE OR REPLACE FUNCTION zp_append_events(p_transaction_id uuid, p_transaction_users uuid[], p_wallet_users uuid[])
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
    IF member = ANY (p_transaction_users) AND (member = t.user_id OR t.status = 'COMPLETED') THEN
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

-- Down Migration

CREATE OR REPLACE FUNCTION zp_append_events(p_transaction_id uuid, p_transaction_users uuid[], p_wallet_users uuid[])
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
    PERFORM pg_notify('zenpay_events', CASE
      WHEN length(array_to_string(announced, ',')) < 7900 THEN array_to_string(announced, ',')
      ELSE left(array_to_string(ARRAY(SELECT DISTINCT u::text FROM unnest(p_transaction_users || p_wallet_users) AS u), ','), 7900)
    END);
  END IF;
END $$;
