-- Operator actions as workflows (issue 15): an operator's request (reverse a completed transfer, refund
-- a completed on-ramp at the bank, retry or close a stuck payment) is recorded here first, under an
-- action id that is also its workflow's id, by the operator API that authenticated the operator; the
-- workflow reads the request from here (its input is only the id) and every ledger step it takes is one
-- function below. A reversal takes back from the recipient what their available balance allows; the rest
-- is a debt (user_debts) that money later credited to them settles first, to the sender. Every request
-- and every outcome is audited in operator_actions and the security event log.

-- Up Migration

CREATE TABLE operator_action_requests (
  id             uuid PRIMARY KEY,
  kind           text NOT NULL CHECK (kind IN ('REVERSE_TRANSFER', 'REFUND_ON_RAMP', 'RETRY_PAYMENT', 'CLOSE_PAYMENT')),
  transaction_id uuid NOT NULL REFERENCES transactions (id),
  operator_name  text NOT NULL CHECK (char_length(operator_name) BETWEEN 1 AND 64),
  reason         text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
  via            text NOT NULL CHECK (via IN ('operator-api', 'temporal-ui', 'command')),
  client_address text CHECK (char_length(client_address) <= 64),
  status         text NOT NULL CHECK (status IN ('RUNNING', 'COMPLETED', 'REFUSED')),
  -- What came of it: e.g. REVERSED, REFUNDED, CLOSED, INSUFFICIENT_FUNDS, BANK_COMPLETED.
  result_code    text CHECK (result_code ~ '^[A-Z][A-Z_]{1,63}$'),
  details        jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (pg_column_size(details) <= 8192),
  created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at    timestamptz,
  CONSTRAINT operator_action_requests_finished CHECK ((status = 'RUNNING') = (finished_at IS NULL) AND (status = 'RUNNING') = (result_code IS NULL))
);
CREATE INDEX operator_action_requests_transaction ON operator_action_requests (transaction_id, created_at);

-- What was asked never changes, and a finished action stays finished.
CREATE FUNCTION operator_action_requests_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'operator actions are never deleted (%)', OLD.id USING ERRCODE = 'restrict_violation';
  END IF;
  IF (NEW.id, NEW.kind, NEW.transaction_id, NEW.operator_name, NEW.reason, NEW.via, NEW.created_at)
     IS DISTINCT FROM (OLD.id, OLD.kind, OLD.transaction_id, OLD.operator_name, OLD.reason, OLD.via, OLD.created_at)
     OR (OLD.status <> 'RUNNING' AND (NEW.status, NEW.result_code) IS DISTINCT FROM (OLD.status, OLD.result_code)) THEN
    RAISE EXCEPTION 'operator action %: what was asked, and a finished outcome, never change', OLD.id USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER operator_action_requests_guard BEFORE UPDATE OR DELETE ON operator_action_requests
  FOR EACH ROW EXECUTE FUNCTION operator_action_requests_guard();

-- One reversal per transfer, ever: what was taken back at once and what was left owed.
CREATE TABLE transfer_reversals (
  transaction_id   uuid PRIMARY KEY REFERENCES transactions (id),
  action_id        uuid NOT NULL UNIQUE REFERENCES operator_action_requests (id),
  amount           bigint NOT NULL CHECK (amount > 0),
  recovered        bigint NOT NULL CHECK (recovered >= 0),
  owed             bigint NOT NULL CHECK (owed >= 0),
  created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT transfer_reversals_whole CHECK (recovered + owed = amount)
);

-- What a reversal's recipient still owes its sender: later money credited to the debtor settles it
-- first (zp_settle_debts, run by a trigger in the same SQL transaction as the credit).
CREATE TABLE user_debts (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transaction_id   uuid NOT NULL UNIQUE REFERENCES transfer_reversals (transaction_id),
  debtor_user_id   uuid NOT NULL REFERENCES users (id),
  creditor_user_id uuid NOT NULL REFERENCES users (id),
  amount           bigint NOT NULL CHECK (amount > 0),
  settled          bigint NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  settled_at       timestamptz,
  CONSTRAINT user_debts_settled CHECK (settled >= 0 AND settled <= amount AND (settled = amount) = (settled_at IS NOT NULL)),
  CONSTRAINT user_debts_parties CHECK (debtor_user_id <> creditor_user_id)
);
CREATE INDEX user_debts_open ON user_debts (debtor_user_id, id) WHERE settled < amount;

CREATE TABLE debt_settlements (
  debt_id               bigint NOT NULL REFERENCES user_debts (id),
  seq                   integer NOT NULL CHECK (seq > 0),
  amount                bigint NOT NULL CHECK (amount > 0),
  -- The credit that brought the money (a transfer to the debtor, an on-ramp).
  source_transaction_id uuid REFERENCES transactions (id),
  created_at            timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (debt_id, seq)
);

-- A refund of a completed on-ramp names the operator action that asked for it (null: a refund of an
-- on-ramp that ended without credit, made by the reconciliation).
ALTER TABLE bank_refunds ADD COLUMN operator_action_id uuid REFERENCES operator_action_requests (id);

-- Audits one step of an operator action: operator_actions and a security event, in the caller's transaction.
CREATE FUNCTION zp_audit_operator_action(r operator_action_requests, p_outcome text, p_details jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  action text := lower(r.kind);
  subject_user uuid := (SELECT user_id FROM transactions WHERE id = r.transaction_id);
BEGIN
  INSERT INTO operator_actions (operator_name, action, subject, reason, via, client_address, outcome, details)
  VALUES (r.operator_name, action, r.transaction_id::text, r.reason, r.via, r.client_address, left(p_outcome, 64),
    p_details || jsonb_build_object('actionId', r.id));
  INSERT INTO security_events (kind, outcome, user_id, actor, client_address, subject, details)
  VALUES ('operator.' || action,
    CASE WHEN p_outcome IN ('requested', 'completed') THEN 'success' WHEN p_outcome = 'refused' THEN 'denied' ELSE 'failure' END,
    subject_user, 'operator:' || r.operator_name, r.client_address, r.transaction_id::text,
    p_details || jsonb_build_object('actionId', r.id, 'via', r.via, 'reason', r.reason, 'outcome', p_outcome));
END $$;

-- Records an operator's request (p_kind on transaction p_transaction_id, with a reason) under the action
-- id p_id, once: 'created', or 'exists' for a retry with the same id and request, 'conflict' for the same
-- id with another request, 'not_found' (no such transaction) or 'unknown_operator' (none enabled of
-- that name). The row comes back with the answer.
CREATE FUNCTION zp_request_operator_action(p_id uuid, p_kind text, p_transaction_id uuid, p_operator_name text, p_reason text,
  p_via text, p_client_address text)
RETURNS TABLE (result text, action_status text, action_result_code text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  r operator_action_requests%ROWTYPE;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM operators WHERE name = p_operator_name AND disabled_at IS NULL) THEN
    RETURN QUERY SELECT 'unknown_operator'::text, NULL::text, NULL::text;
    RETURN;
  END IF;
  SELECT * INTO r FROM operator_action_requests WHERE id = p_id;
  IF FOUND THEN
    RETURN QUERY SELECT CASE WHEN (r.kind, r.transaction_id, r.operator_name) = (p_kind, p_transaction_id, p_operator_name)
      THEN 'exists' ELSE 'conflict' END, r.status, r.result_code;
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM transactions WHERE id = p_transaction_id) THEN
    RETURN QUERY SELECT 'not_found'::text, NULL::text, NULL::text;
    RETURN;
  END IF;
  INSERT INTO operator_action_requests (id, kind, transaction_id, operator_name, reason, via, client_address, status)
  VALUES (p_id, p_kind, p_transaction_id, p_operator_name, p_reason, p_via, left(p_client_address, 64), 'RUNNING')
  ON CONFLICT (id) DO NOTHING RETURNING * INTO r;
  IF NOT FOUND THEN
    -- A concurrent request with the same id won: answer as its retry would.
    SELECT * INTO r FROM operator_action_requests WHERE id = p_id;
    RETURN QUERY SELECT CASE WHEN (r.kind, r.transaction_id, r.operator_name) = (p_kind, p_transaction_id, p_operator_name)
      THEN 'exists' ELSE 'conflict' END, r.status, r.result_code;
    RETURN;
  END IF;
  PERFORM zp_audit_operator_action(r, 'requested', '{}'::jsonb);
  RETURN QUERY SELECT 'created'::text, r.status, r.result_code;
END $$;

-- Ends an operator action COMPLETED or REFUSED with its result code, once (a retry returns the first end),
-- audited.
CREATE FUNCTION zp_finish_operator_action(p_id uuid, p_status text, p_result_code text, p_details jsonb)
RETURNS operator_action_requests LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  r operator_action_requests%ROWTYPE;
BEGIN
  IF p_status NOT IN ('COMPLETED', 'REFUSED') THEN
    RAISE EXCEPTION 'operator action %: % is not an end', p_id, p_status USING ERRCODE = 'check_violation';
  END IF;
  SELECT * INTO r FROM operator_action_requests WHERE id = p_id FOR UPDATE;
  IF NOT FOUND THEN RAISE EXCEPTION 'operator action % does not exist', p_id USING ERRCODE = 'no_data_found'; END IF;
  IF r.status = 'RUNNING' THEN
    UPDATE operator_action_requests SET status = p_status, result_code = p_result_code, details = coalesce(p_details, '{}'::jsonb),
      finished_at = clock_timestamp()
    WHERE id = p_id RETURNING * INTO r;
    PERFORM zp_audit_operator_action(r, lower(p_status), jsonb_build_object('result', p_result_code) || coalesce(p_details, '{}'::jsonb));
  END IF;
  RETURN r;
END $$;

-- Locks an operator action of the expected kind, or raises (a bug: retrying cannot help).
CREATE FUNCTION zp_lock_operator_action(p_id uuid, p_kind text) RETURNS operator_action_requests LANGUAGE plpgsql AS $$
DECLARE
  r operator_action_requests%ROWTYPE;
BEGIN
  SELECT * INTO r FROM operator_action_requests WHERE id = p_id FOR UPDATE;
  IF NOT FOUND THEN RAISE EXCEPTION 'operator action % does not exist', p_id USING ERRCODE = 'no_data_found'; END IF;
  IF r.kind <> p_kind THEN RAISE EXCEPTION 'operator action % is a %, not %', r.id, r.kind, p_kind USING ERRCODE = 'wrong_object_type'; END IF;
  RETURN r;
END $$;

-- A wallet's spendable balance (the caller holds its lock).
CREATE FUNCTION zp_available(p_account bigint) RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT credits_posted - debits_posted - debits_pending FROM ledger_accounts WHERE id = p_account
$$;

-- Reverses the COMPLETED transfer of operator action p_action_id, at most once per transfer: as much as
-- the recipient's available balance allows goes back to the sender now (ledger leg 'reversal' of the
-- transfer), the rest becomes the recipient's debt to the sender. Both users get a transaction event (the
-- transfer now carries its reversal) and a wallet event. Answers 'reversed' (now, or by this action
-- before), 'already_reversed' (by another action) or 'not_completed', with the amounts.
CREATE FUNCTION zp_reverse_transfer(p_action_id uuid)
RETURNS TABLE (result text, recovered bigint, owed bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  r operator_action_requests%ROWTYPE := zp_lock_operator_action(p_action_id, 'REVERSE_TRANSFER');
  t transactions%ROWTYPE := zp_lock_transaction(r.transaction_id, 'TRANSFER');
  v transfer_reversals%ROWTYPE;
  sender bigint := zp_wallet_account(t.user_id);
  recipient bigint := zp_wallet_account(t.counterparty_user_id);
  taken bigint;
BEGIN
  SELECT * INTO v FROM transfer_reversals WHERE transaction_id = t.id;
  IF FOUND THEN
    RETURN QUERY SELECT CASE WHEN v.action_id = r.id THEN 'reversed' ELSE 'already_reversed' END, v.recovered, v.owed;
    RETURN;
  END IF;
  IF t.status <> 'COMPLETED' THEN
    RETURN QUERY SELECT 'not_completed'::text, 0::bigint, 0::bigint;
    RETURN;
  END IF;
  PERFORM 1 FROM ledger_accounts WHERE id IN (sender, recipient) ORDER BY id FOR UPDATE;
  taken := LEAST(t.amount, GREATEST(zp_available(recipient), 0));
  IF taken > 0 THEN
    PERFORM zp_expect_created(ledger_create_transfer(zp_ledger_transfer_id(t.id, 'reversal'), 'posted', recipient, sender, taken, NULL, t.id),
      'reversal', t.id);
  END IF;
  INSERT INTO transfer_reversals (transaction_id, action_id, amount, recovered, owed)
  VALUES (t.id, r.id, t.amount, taken, t.amount - taken) RETURNING * INTO v;
  IF v.owed > 0 THEN
    INSERT INTO user_debts (transaction_id, debtor_user_id, creditor_user_id, amount)
    VALUES (t.id, t.counterparty_user_id, t.user_id, v.owed);
  END IF;
  UPDATE transactions SET updated_at = clock_timestamp() WHERE id = t.id;
  PERFORM zp_append_events(t.id, zp_parties(t), zp_parties(t));
  RETURN QUERY SELECT 'reversed'::text, v.recovered, v.owed;
END $$;

-- Settles the open debts of p_user_id, oldest first, from their available balance, to each debt's
-- creditor (ledger leg 'debt-settlement:<n>' of the reversed transfer); p_source_id names the credit that
-- brought the money. Both parties get a transaction event on the reversed transfer and the creditor a
-- wallet event (the debtor's comes from the credit's own step). Returns the amount settled.
CREATE FUNCTION zp_settle_debts(p_user_id uuid, p_source_id uuid) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  d user_debts%ROWTYPE;
  t transactions%ROWTYPE;
  debtor bigint := zp_wallet_account(p_user_id);
  creditor bigint;
  taken bigint;
  settled_now bigint := 0;
  n integer;
BEGIN
  FOR d IN SELECT * FROM user_debts WHERE debtor_user_id = p_user_id AND settled < amount ORDER BY id FOR UPDATE LOOP
    creditor := zp_wallet_account(d.creditor_user_id);
    PERFORM 1 FROM ledger_accounts WHERE id IN (debtor, creditor) ORDER BY id FOR UPDATE;
    taken := LEAST(d.amount - d.settled, GREATEST(zp_available(debtor), 0));
    EXIT WHEN taken <= 0;
    n := (SELECT count(*) FROM debt_settlements WHERE debt_id = d.id) + 1;
    PERFORM zp_expect_created(ledger_create_transfer(zp_ledger_transfer_id(d.transaction_id, 'debt-settlement:' || n), 'posted',
      debtor, creditor, taken, NULL, d.transaction_id), 'debt-settlement', d.transaction_id);
    INSERT INTO debt_settlements (debt_id, seq, amount, source_transaction_id) VALUES (d.id, n, taken, p_source_id);
    UPDATE user_debts SET settled = settled + taken, settled_at = CASE WHEN settled + taken = amount THEN clock_timestamp() END
    WHERE id = d.id;
    UPDATE transactions SET updated_at = clock_timestamp() WHERE id = d.transaction_id RETURNING * INTO t;
    PERFORM zp_append_events(t.id, zp_parties(t), ARRAY[d.creditor_user_id]);
    settled_now := settled_now + taken;
  END LOOP;
  RETURN settled_now;
END $$;

-- Money credited to a user (a transfer to them or an on-ramp, COMPLETED) settles their debts first, in
-- the same SQL transaction, before they can spend it.
CREATE FUNCTION zp_settle_debts_on_credit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  credited uuid := CASE NEW.kind WHEN 'TRANSFER' THEN NEW.counterparty_user_id ELSE NEW.user_id END;
BEGIN
  IF EXISTS (SELECT 1 FROM user_debts WHERE debtor_user_id = credited AND settled < amount) THEN
    PERFORM zp_settle_debts(credited, NEW.id);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER transactions_settle_debts AFTER UPDATE OF status ON transactions
  FOR EACH ROW WHEN (NEW.status = 'COMPLETED' AND OLD.status IS DISTINCT FROM 'COMPLETED' AND NEW.kind IN ('TRANSFER', 'ON_RAMP'))
  EXECUTE FUNCTION zp_settle_debts_on_credit();

-- Holds the amount of a COMPLETED on-ramp for its refund at the bank (operator action p_action_id): a
-- pending transfer from the wallet back to the bank's clearing account (ledger leg 'refund-hold') and a
-- requested refund. Answers 'held' (now, or by this action before), 'insufficient_funds' (nothing held or
-- recorded), 'already_refunded' (another refund exists) or 'not_completed', with the bank's payment id.
CREATE FUNCTION zp_hold_on_ramp_refund(p_action_id uuid)
RETURNS TABLE (result text, bank_payment_id text, amount bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  r operator_action_requests%ROWTYPE := zp_lock_operator_action(p_action_id, 'REFUND_ON_RAMP');
  t transactions%ROWTYPE := zp_lock_transaction(r.transaction_id, 'ON_RAMP');
  f bank_refunds%ROWTYPE;
  ledger_result text;
BEGIN
  SELECT * INTO f FROM bank_refunds WHERE transaction_id = t.id;
  IF FOUND THEN
    RETURN QUERY SELECT CASE WHEN f.operator_action_id = r.id THEN 'held' ELSE 'already_refunded' END, f.bank_payment_id, f.amount;
    RETURN;
  END IF;
  IF t.status <> 'COMPLETED' OR t.bank_payment_id IS NULL THEN
    RETURN QUERY SELECT 'not_completed'::text, t.bank_payment_id, t.amount;
    RETURN;
  END IF;
  ledger_result := ledger_create_transfer(zp_ledger_transfer_id(t.id, 'refund-hold'), 'pending', zp_wallet_account(t.user_id),
    zp_clearing_account(t.bank), t.amount, NULL, t.id);
  IF ledger_result = 'exceeds_credits' THEN
    RETURN QUERY SELECT 'insufficient_funds'::text, t.bank_payment_id, t.amount;
    RETURN;
  END IF;
  PERFORM zp_expect_created(ledger_result, 'refund-hold', t.id);
  INSERT INTO bank_refunds (transaction_id, bank_payment_id, amount, status, reason, operator_action_id)
  VALUES (t.id, t.bank_payment_id, t.amount, 'requested', left('operator ' || r.operator_name || ': ' || r.reason, 200), r.id);
  UPDATE transactions SET updated_at = clock_timestamp() WHERE id = t.id;
  PERFORM zp_append_events(t.id, ARRAY[t.user_id], ARRAY[t.user_id]);
  RETURN QUERY SELECT 'held'::text, t.bank_payment_id, t.amount;
END $$;

-- Records the bank's word on the refund of operator action p_action_id (pending, succeeded or failed):
-- succeeded posts the hold (the money left the wallet for the bank), failed voids it (back to available).
-- A decided refund stays decided. Returns the refund's status after.
CREATE FUNCTION zp_record_on_ramp_refund(p_action_id uuid, p_bank_refund_id text, p_status text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  r operator_action_requests%ROWTYPE := zp_lock_operator_action(p_action_id, 'REFUND_ON_RAMP');
  t transactions%ROWTYPE := zp_lock_transaction(r.transaction_id, 'ON_RAMP');
  f bank_refunds%ROWTYPE;
  hold uuid := zp_ledger_transfer_id(t.id, 'refund-hold');
BEGIN
  IF p_status NOT IN ('pending', 'succeeded', 'failed') THEN
    RAISE EXCEPTION 'refund of %: % is not a bank status', t.id, p_status USING ERRCODE = 'check_violation';
  END IF;
  SELECT * INTO f FROM bank_refunds WHERE transaction_id = t.id AND operator_action_id = r.id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'refund of %: no refund held by action %', t.id, r.id USING ERRCODE = 'check_violation';
  END IF;
  IF f.status IN ('succeeded', 'failed') THEN RETURN f.status; END IF;
  IF p_status = 'succeeded' THEN
    PERFORM zp_expect_created(ledger_create_transfer(zp_ledger_transfer_id(t.id, 'refund-post'), 'post_pending', NULL, NULL, NULL, hold, t.id),
      'refund-post', t.id);
  ELSIF p_status = 'failed' THEN
    PERFORM zp_expect_created(ledger_create_transfer(zp_ledger_transfer_id(t.id, 'refund-void'), 'void_pending', NULL, NULL, NULL, hold, t.id),
      'refund-void', t.id);
  END IF;
  UPDATE bank_refunds SET bank_refund_id = coalesce(bank_refund_id, p_bank_refund_id), status = p_status, updated_at = now()
  WHERE transaction_id = t.id;
  UPDATE transactions SET updated_at = clock_timestamp() WHERE id = t.id;
  PERFORM zp_append_events(t.id, ARRAY[t.user_id], CASE WHEN p_status = 'failed' THEN ARRAY[t.user_id] ELSE '{}'::uuid[] END);
  RETURN p_status;
END $$;

DO $$
DECLARE
  entry text;
BEGIN
  FOREACH entry IN ARRAY ARRAY[
    'operator_action_requests_guard()',
    'zp_audit_operator_action(operator_action_requests, text, jsonb)',
    'zp_request_operator_action(uuid, text, uuid, text, text, text, text)',
    'zp_finish_operator_action(uuid, text, text, jsonb)',
    'zp_lock_operator_action(uuid, text)',
    'zp_available(bigint)',
    'zp_reverse_transfer(uuid)',
    'zp_settle_debts(uuid, uuid)',
    'zp_settle_debts_on_credit()',
    'zp_hold_on_ramp_refund(uuid)',
    'zp_record_on_ramp_refund(uuid, text, text)'
  ] LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', entry);
  END LOOP;
END $$;
GRANT EXECUTE ON FUNCTION zp_request_operator_action(uuid, text, uuid, text, text, text, text) TO zenpay_app;
GRANT EXECUTE ON FUNCTION zp_finish_operator_action(uuid, text, text, jsonb) TO zenpay_app;
GRANT EXECUTE ON FUNCTION zp_reverse_transfer(uuid) TO zenpay_app;
GRANT EXECUTE ON FUNCTION zp_hold_on_ramp_refund(uuid) TO zenpay_app;
GRANT EXECUTE ON FUNCTION zp_record_on_ramp_refund(uuid, text, text) TO zenpay_app;
GRANT SELECT ON operator_action_requests, transfer_reversals, user_debts, debt_settlements TO zenpay_app;

-- Down Migration

REVOKE ALL ON operator_action_requests, transfer_reversals, user_debts, debt_settlements FROM zenpay_app;
DROP FUNCTION zp_record_on_ramp_refund(uuid, text, text);
DROP FUNCTION zp_hold_on_ramp_refund(uuid);
DROP TRIGGER transactions_settle_debts ON transactions;
DROP FUNCTION zp_settle_debts_on_credit();
DROP FUNCTION zp_settle_debts(uuid, uuid);
DROP FUNCTION zp_reverse_transfer(uuid);
DROP FUNCTION zp_available(bigint);
DROP FUNCTION zp_lock_operator_action(uuid, text);
DROP FUNCTION zp_finish_operator_action(uuid, text, text, jsonb);
DROP FUNCTION zp_request_operator_action(uuid, text, uuid, text, text, text, text);
DROP FUNCTION zp_audit_operator_action(operator_action_requests, text, jsonb);
ALTER TABLE bank_refunds DROP COLUMN operator_action_id;
DROP TABLE debt_settlements;
DROP TABLE user_debts;
DROP TABLE transfer_reversals;
DROP TRIGGER operator_action_requests_guard ON operator_action_requests;
DROP FUNCTION operator_action_requests_guard();
DROP TABLE operator_action_requests;
