-- Fraud and limits (issue 12): payment limits by verification tier checked and recorded atomically in
-- the submit function under a per-user lock; a fraud decision (score and the rules that fired) per
-- scored payment; IN_REVIEW with the money held (a transfer by a pending wallet-to-wallet transfer,
-- posted on approval and voided on rejection or timeout); operators with their own accounts, sessions
-- and an append-only audit of every action.

-- Up Migration

ALTER TABLE transactions DROP CONSTRAINT transactions_status_check;
ALTER TABLE transactions ADD CONSTRAINT transactions_status_check
  CHECK (status IN ('PENDING', 'AWAITING_CONFIRMATION', 'IN_REVIEW', 'AWAITING_BANK', 'COMPLETED', 'FAILED', 'EXPIRED'));
DROP INDEX transactions_unfinished;
CREATE INDEX transactions_unfinished ON transactions (status, created_at)
  WHERE status IN ('PENDING', 'AWAITING_CONFIRMATION', 'IN_REVIEW', 'AWAITING_BANK');
-- Limits and velocity rules read one user's payments of a period, and one payee's senders.
CREATE INDEX transactions_user_kind_created ON transactions (user_id, kind, created_at);
CREATE INDEX transactions_counterparty_created ON transactions (counterparty_user_id, created_at)
  WHERE counterparty_user_id IS NOT NULL;

-- A user's verification tier; no row: NEW. Set only by an operator (zp_set_user_tier).
CREATE TABLE user_tiers (
  user_id    uuid PRIMARY KEY REFERENCES users (id),
  tier       text NOT NULL CHECK (tier IN ('NEW', 'VERIFIED')),
  set_by     text NOT NULL CHECK (char_length(set_by) BETWEEN 1 AND 128),
  reason     text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per scored payment: its score, the rules that fired, and whether (and how) it was reviewed.
CREATE TABLE fraud_decisions (
  transaction_id         uuid PRIMARY KEY REFERENCES transactions (id),
  user_id                uuid NOT NULL REFERENCES users (id),
  score                  integer NOT NULL CHECK (score >= 0),
  -- [{name, weight, value, threshold}] of the rules that fired.
  rules                  jsonb NOT NULL CHECK (jsonb_typeof(rules) = 'array'),
  review                 boolean NOT NULL,
  review_timeout_seconds integer CHECK (review_timeout_seconds > 0),
  -- Set when the review starts (at once, or once a step-up confirmation released the payment).
  review_deadline_at     timestamptz,
  review_outcome         text CHECK (review_outcome IN ('APPROVED', 'REJECTED', 'TIMED_OUT')),
  reviewed_by            text CHECK (char_length(reviewed_by) <= 128),
  review_reason          text CHECK (char_length(review_reason) <= 500),
  reviewed_at            timestamptz,
  created_at             timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT fraud_decisions_review CHECK (review = (review_timeout_seconds IS NOT NULL) AND (review OR review_outcome IS NULL))
);
CREATE INDEX fraud_decisions_user ON fraud_decisions (user_id, created_at);

-- Operators: their own accounts (created by `npm run operator -- create <name>`), sessions and audit.
CREATE TABLE operators (
  id            uuid PRIMARY KEY,
  name          text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9._-]{1,63}$'),
  password_hash text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  disabled_at   timestamptz
);

CREATE TABLE operator_sessions (
  token_hash     bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
  operator_id    uuid NOT NULL REFERENCES operators (id),
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL,
  revoked_at     timestamptz,
  client_address text CHECK (char_length(client_address) <= 64)
);
CREATE INDEX operator_sessions_operator ON operator_sessions (operator_id);

-- Who did what, why and when: every operator action, append-only.
CREATE TABLE operator_actions (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  occurred_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  operator_name  text NOT NULL CHECK (char_length(operator_name) BETWEEN 1 AND 64),
  action         text NOT NULL CHECK (action ~ '^[a-z][a-z_]{1,63}$'),
  subject        text CHECK (char_length(subject) <= 255),
  reason         text CHECK (char_length(reason) <= 500),
  via            text NOT NULL CHECK (via IN ('operator-api', 'temporal-ui', 'command')),
  client_address text CHECK (char_length(client_address) <= 64),
  outcome        text NOT NULL CHECK (char_length(outcome) BETWEEN 1 AND 64),
  details        jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (pg_column_size(details) <= 8192)
);
CREATE INDEX operator_actions_operator ON operator_actions (operator_name, occurred_at);

CREATE FUNCTION operator_actions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'operator actions are append-only (%)', TG_OP USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER operator_actions_append_only BEFORE UPDATE OR DELETE ON operator_actions
  FOR EACH ROW EXECUTE FUNCTION operator_actions_append_only();
CREATE TRIGGER operator_actions_no_truncate BEFORE TRUNCATE ON operator_actions
  FOR EACH STATEMENT EXECUTE FUNCTION operator_actions_append_only();

-- Refuses a payment over a limit: SQLSTATE ZP001 with the limit as JSON in the detail (the API turns
-- it into LIMIT_EXCEEDED). Raising rolls back everything the submit did: nothing is recorded or moved.
CREATE FUNCTION zp_refuse_limit(p_name text, p_limit bigint, p_used bigint, p_amount bigint, p_tier text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'payment limit % exceeded', p_name USING ERRCODE = 'ZP001',
    DETAIL = json_build_object('limit', p_name, 'limitMinor', p_limit::text, 'usedMinor', p_used::text,
      'amountMinor', p_amount::text, 'tier', p_tier)::text;
END $$;

-- Checks a new payment against its user's limits (p_limits: {timeZone, tiers: {<tier>: {<kind>:
-- {perPayment, daily, monthly: {name, minor}}, balanceCap: {name, minor}}}}). Counts every payment of
-- the period that is not FAILED or EXPIRED (non-final ones and completed ones); the caller holds the
-- user's lock, so concurrent payments cannot together pass a limit. A limit is the most allowed.
CREATE FUNCTION zp_check_limits(p_user_id uuid, p_kind text, p_amount bigint, p_limits jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  tier text := coalesce((SELECT u.tier FROM user_tiers u WHERE u.user_id = p_user_id), 'NEW');
  tier_limits jsonb := p_limits -> 'tiers' -> tier;
  kind_limits jsonb := tier_limits -> p_kind;
  tz text := p_limits ->> 'timeZone';
  period text;
  used bigint;
  limit_minor bigint;
  a ledger_accounts%ROWTYPE;
BEGIN
  IF kind_limits IS NULL OR tz IS NULL THEN
    RAISE EXCEPTION 'no limits for tier % and kind %', tier, p_kind USING ERRCODE = 'check_violation';
  END IF;
  limit_minor := (kind_limits -> 'perPayment' ->> 'minor')::bigint;
  IF p_amount > limit_minor THEN
    PERFORM zp_refuse_limit(kind_limits -> 'perPayment' ->> 'name', limit_minor, 0, p_amount, tier);
  END IF;
  FOREACH period IN ARRAY ARRAY['day', 'month'] LOOP
    SELECT coalesce(sum(amount), 0) INTO used FROM transactions
    WHERE user_id = p_user_id AND kind = p_kind AND status NOT IN ('FAILED', 'EXPIRED')
      AND created_at >= (date_trunc(period, now() AT TIME ZONE tz) AT TIME ZONE tz);
    limit_minor := (kind_limits -> (CASE period WHEN 'day' THEN 'daily' ELSE 'monthly' END) ->> 'minor')::bigint;
    IF used + p_amount > limit_minor THEN
      PERFORM zp_refuse_limit(kind_limits -> (CASE period WHEN 'day' THEN 'daily' ELSE 'monthly' END) ->> 'name',
        limit_minor, used, p_amount, tier);
    END IF;
  END LOOP;
  IF p_kind = 'ON_RAMP' THEN
    -- The wallet's balance (held money included), money on its way in (pending credits, on-ramps not
    -- yet final) and this on-ramp together stay within the cap.
    SELECT * INTO a FROM ledger_accounts WHERE user_id = p_user_id;
    used := a.credits_posted + a.credits_pending - a.debits_posted + (SELECT coalesce(sum(amount), 0) FROM transactions
      WHERE user_id = p_user_id AND kind = 'ON_RAMP' AND status NOT IN ('COMPLETED', 'FAILED', 'EXPIRED'));
    limit_minor := (tier_limits -> 'balanceCap' ->> 'minor')::bigint;
    IF used + p_amount > limit_minor THEN
      PERFORM zp_refuse_limit(tier_limits -> 'balanceCap' ->> 'name', limit_minor, used, p_amount, tier);
    END IF;
  END IF;
END $$;

-- Holds a TRANSFER's amount while it is reviewed: a pending transfer from the sender's wallet to the
-- recipient's (the recipient sees nothing until it is posted). False when the sender cannot cover it.
CREATE FUNCTION zp_hold_transfer(t transactions) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  result text;
BEGIN
  result := ledger_create_transfer(zp_ledger_transfer_id(t.id, 'hold'), 'pending',
    zp_wallet_account(t.user_id), zp_wallet_account(t.counterparty_user_id), t.amount, NULL, t.id);
  IF result = 'exceeds_credits' THEN RETURN false; END IF;
  PERFORM zp_expect_created(result, 'hold', t.id);
  RETURN true;
END $$;

-- Records a new payment as zp_submit_payment does, after checking its user's limits (p_limits, null:
-- none) under a per-user lock, with its fraud decision (p_decision, null: not scored: {score, rules,
-- review, timeoutSeconds, clientAddress}). A payment flagged for review starts IN_REVIEW (or
-- AWAITING_CONFIRMATION first, when step-up applies too), a TRANSFER's amount held at once.
CREATE FUNCTION zp_submit_checked_payment(
  p_id uuid, p_kind text, p_user_id uuid, p_counterparty_user_id uuid, p_amount bigint, p_note text,
  p_idempotency_key text, p_request_fingerprint bytea, p_bank text, p_bank_account text,
  p_confirm_method text, p_code_hash bytea, p_confirm_within_seconds integer, p_attempts_max integer,
  p_limits jsonb, p_decision jsonb
) RETURNS SETOF transactions LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  t transactions%ROWTYPE;
  review boolean := coalesce((p_decision ->> 'review')::boolean, false);
  wallet_users uuid[] := '{}';
BEGIN
  -- One payment of a user at a time from here to the commit: limits count what committed before.
  PERFORM pg_advisory_xact_lock(hashtextextended('zenpay-payment-limits:' || p_user_id::text, 0));
  SELECT * INTO t FROM transactions WHERE user_id = p_user_id AND idempotency_key = p_idempotency_key;
  IF FOUND THEN
    -- A retry: the payment recorded under this key, never checked or scored again.
    RETURN NEXT t;
    RETURN;
  END IF;
  IF p_limits IS NOT NULL THEN PERFORM zp_check_limits(p_user_id, p_kind, p_amount, p_limits); END IF;
  INSERT INTO transactions (id, kind, status, user_id, counterparty_user_id, amount, note, idempotency_key,
    request_fingerprint, bank, bank_account)
  VALUES (p_id, p_kind,
    CASE WHEN p_confirm_method IS NOT NULL THEN 'AWAITING_CONFIRMATION' WHEN review THEN 'IN_REVIEW' ELSE 'PENDING' END,
    p_user_id, p_counterparty_user_id, p_amount, p_note, p_idempotency_key, p_request_fingerprint, p_bank, p_bank_account)
  RETURNING * INTO t;
  IF p_confirm_method IS NOT NULL THEN
    INSERT INTO payment_challenges (transaction_id, digest, method, code_hash, attempts_max, expires_at)
    VALUES (t.id, zp_payment_digest(t), p_confirm_method, p_code_hash, p_attempts_max,
      now() + make_interval(secs => p_confirm_within_seconds));
  END IF;
  IF p_decision IS NOT NULL THEN
    INSERT INTO fraud_decisions (transaction_id, user_id, score, rules, review, review_timeout_seconds, review_deadline_at)
    VALUES (t.id, t.user_id, (p_decision ->> 'score')::integer, p_decision -> 'rules', review,
      CASE WHEN review THEN (p_decision ->> 'timeoutSeconds')::integer END,
      CASE WHEN t.status = 'IN_REVIEW' THEN now() + make_interval(secs => (p_decision ->> 'timeoutSeconds')::integer) END);
    INSERT INTO security_events (kind, outcome, user_id, actor, client_address, subject, details)
    VALUES ('fraud.decision', CASE WHEN review THEN 'flagged' ELSE 'success' END, t.user_id, 'system',
      left(p_decision ->> 'clientAddress', 64), t.id::text,
      jsonb_build_object('score', (p_decision ->> 'score')::integer, 'rules', p_decision -> 'rules', 'review', review,
        'kind', t.kind, 'amount', t.amount::text));
  END IF;
  IF t.status = 'IN_REVIEW' AND t.kind = 'TRANSFER' THEN
    IF NOT zp_hold_transfer(t) THEN
      t := zp_set_status(t.id, 'FAILED', 'INSUFFICIENT_FUNDS', '{}');
      RETURN NEXT t;
      RETURN;
    END IF;
    wallet_users := ARRAY[t.user_id];
  END IF;
  PERFORM zp_append_events(t.id, zp_parties(t), wallet_users);
  RETURN NEXT t;
END $$;

-- A TRANSFER waiting for its user or an operator moves nothing, whoever asks; a reviewed one that was
-- approved posts the hold taken when it was flagged.
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
  IF t.status IN ('COMPLETED', 'FAILED', 'EXPIRED', 'AWAITING_CONFIRMATION', 'IN_REVIEW') THEN
    RETURN QUERY SELECT t.status, t.failure_code;
    RETURN;
  END IF;
  IF EXISTS (SELECT 1 FROM ledger_transfers WHERE id = zp_ledger_transfer_id(t.id, 'hold')) THEN
    PERFORM zp_expect_created(ledger_create_transfer(zp_ledger_transfer_id(t.id, 'post'), 'post_pending', NULL, NULL, NULL,
      zp_ledger_transfer_id(t.id, 'hold'), t.id), 'post', t.id);
    t := zp_set_status(t.id, 'COMPLETED', NULL, zp_parties(t));
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

-- Ends a payment with no money moved (FAILED or EXPIRED with a code), voiding any hold: a withdrawal's,
-- or a reviewed transfer's.
CREATE OR REPLACE FUNCTION zp_end_transaction(p_id uuid, p_status text, p_failure_code text)
RETURNS TABLE (outcome_status text, outcome_failure_code text) LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
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
    IF t.kind IN ('OFF_RAMP', 'TRANSFER') THEN voided := zp_void_hold(t); END IF;
    t := zp_set_status(t.id, p_status, p_failure_code, CASE WHEN voided THEN ARRAY[t.user_id] ELSE '{}'::uuid[] END);
  END IF;
  RETURN QUERY SELECT t.status, t.failure_code;
END $$;

-- As before, except that a payment also flagged for review goes on to IN_REVIEW (its review's deadline
-- starting now, a TRANSFER's amount held) instead of PENDING.
CREATE OR REPLACE FUNCTION zp_confirm_payment(p_id uuid, p_user_id uuid, p_verified boolean, p_code_hash bytea)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  t transactions%ROWTYPE;
  c payment_challenges%ROWTYPE;
  d fraud_decisions%ROWTYPE;
  right_code boolean;
BEGIN
  SELECT * INTO t FROM transactions WHERE id = p_id AND user_id = p_user_id FOR UPDATE;
  IF NOT FOUND THEN RETURN 'not_found'; END IF;
  SELECT * INTO c FROM payment_challenges WHERE transaction_id = t.id FOR UPDATE;
  IF NOT FOUND THEN RETURN 'not_found'; END IF;
  IF t.status <> 'AWAITING_CONFIRMATION' THEN RETURN 'not_awaiting'; END IF;
  IF c.expires_at <= now() THEN RETURN 'expired'; END IF;
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
  SELECT * INTO d FROM fraud_decisions WHERE transaction_id = t.id AND review AND review_outcome IS NULL FOR UPDATE;
  IF NOT FOUND THEN
    UPDATE transactions SET status = 'PENDING', updated_at = clock_timestamp() WHERE id = t.id RETURNING * INTO t;
    PERFORM zp_append_events(t.id, zp_parties(t), '{}');
    RETURN 'confirmed';
  END IF;
  UPDATE fraud_decisions SET review_deadline_at = now() + make_interval(secs => d.review_timeout_seconds) WHERE transaction_id = t.id;
  UPDATE transactions SET status = 'IN_REVIEW', updated_at = clock_timestamp() WHERE id = t.id RETURNING * INTO t;
  IF t.kind = 'TRANSFER' THEN
    IF NOT zp_hold_transfer(t) THEN
      PERFORM zp_set_status(t.id, 'FAILED', 'INSUFFICIENT_FUNDS', '{}');
      RETURN 'confirmed';
    END IF;
    PERFORM zp_append_events(t.id, zp_parties(t), ARRAY[t.user_id]);
  ELSE
    PERFORM zp_append_events(t.id, zp_parties(t), '{}');
  END IF;
  RETURN 'confirmed';
END $$;

-- An operator's decision on a payment in review (p_decision APPROVE or REJECT, with a reason), from the
-- operator API or a Temporal UI signal (p_via). Approved: PENDING (its workflow goes on); rejected:
-- FAILED with REVIEW_REJECTED and the hold voided. Recorded in the decision, the operator's audit and
-- the security event log, all in this one transaction. Answers 'decided', 'not_in_review' (already
-- decided or ended), 'not_found' (no such payment in review) or 'unknown_operator'.
CREATE FUNCTION zp_decide_review(p_id uuid, p_decision text, p_operator_name text, p_via text, p_reason text, p_client_address text)
RETURNS TABLE (result text, outcome_status text, outcome_failure_code text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  t transactions%ROWTYPE;
  d fraud_decisions%ROWTYPE;
  o operators%ROWTYPE;
  voided boolean := false;
  answer text;
BEGIN
  IF p_decision NOT IN ('APPROVE', 'REJECT') OR p_via NOT IN ('operator-api', 'temporal-ui')
     OR p_reason IS NULL OR char_length(p_reason) NOT BETWEEN 1 AND 500 THEN
    RAISE EXCEPTION 'review decision %: % via % is not a decision', p_id, p_decision, p_via USING ERRCODE = 'check_violation';
  END IF;
  SELECT * INTO o FROM operators WHERE name = p_operator_name AND disabled_at IS NULL;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'unknown_operator'::text, NULL::text, NULL::text;
    RETURN;
  END IF;
  SELECT * INTO t FROM transactions WHERE id = p_id FOR UPDATE;
  IF FOUND THEN
    SELECT * INTO d FROM fraud_decisions WHERE transaction_id = t.id AND review FOR UPDATE;
  END IF;
  IF t.id IS NULL OR d.transaction_id IS NULL THEN
    answer := 'not_found';
  ELSIF t.status <> 'IN_REVIEW' THEN
    answer := 'not_in_review';
  ELSE
    answer := 'decided';
    UPDATE fraud_decisions SET review_outcome = CASE p_decision WHEN 'APPROVE' THEN 'APPROVED' ELSE 'REJECTED' END,
      reviewed_by = 'operator:' || o.name, review_reason = p_reason, reviewed_at = now()
    WHERE transaction_id = t.id;
    IF p_decision = 'APPROVE' THEN
      t := zp_set_status(t.id, 'PENDING', NULL, '{}');
    ELSE
      voided := zp_void_hold(t);
      t := zp_set_status(t.id, 'FAILED', 'REVIEW_REJECTED', CASE WHEN voided THEN ARRAY[t.user_id] ELSE '{}'::uuid[] END);
    END IF;
  END IF;
  INSERT INTO operator_actions (operator_name, action, subject, reason, via, client_address, outcome, details)
  VALUES (o.name, 'decide_review', p_id::text, p_reason, p_via, left(p_client_address, 64), answer,
    jsonb_build_object('decision', p_decision, 'status', t.status, 'userId', t.user_id, 'score', d.score));
  INSERT INTO security_events (kind, outcome, user_id, actor, client_address, subject, details)
  VALUES ('review.decided', CASE answer WHEN 'decided' THEN 'success' ELSE 'ignored' END, t.user_id, 'operator:' || o.name,
    left(p_client_address, 64), p_id::text,
    jsonb_build_object('decision', p_decision, 'via', p_via, 'reason', p_reason, 'result', answer, 'status', t.status));
  RETURN QUERY SELECT answer, t.status, t.failure_code;
END $$;

-- No decision by the review's deadline: a payment still IN_REVIEW ends FAILED with REVIEW_TIMEOUT and
-- its hold released. Returns the status after.
CREATE FUNCTION zp_expire_review(p_id uuid)
RETURNS TABLE (outcome_status text, outcome_failure_code text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  t transactions%ROWTYPE;
  voided boolean;
BEGIN
  SELECT * INTO t FROM transactions WHERE id = p_id FOR UPDATE;
  IF NOT FOUND THEN RAISE EXCEPTION 'transaction % does not exist', p_id USING ERRCODE = 'no_data_found'; END IF;
  IF t.status = 'IN_REVIEW' THEN
    UPDATE fraud_decisions SET review_outcome = 'TIMED_OUT', reviewed_by = 'system', reviewed_at = now()
    WHERE transaction_id = t.id;
    voided := zp_void_hold(t);
    t := zp_set_status(t.id, 'FAILED', 'REVIEW_TIMEOUT', CASE WHEN voided THEN ARRAY[t.user_id] ELSE '{}'::uuid[] END);
    INSERT INTO security_events (kind, outcome, user_id, actor, subject, details)
    VALUES ('review.timed_out', 'failure', t.user_id, 'system', t.id::text, jsonb_build_object('kind', t.kind, 'amount', t.amount::text));
  END IF;
  RETURN QUERY SELECT t.status, t.failure_code;
END $$;

-- An operator sets a user's verification tier (which limits apply), with a reason; audited.
CREATE FUNCTION zp_set_user_tier(p_user_id uuid, p_tier text, p_operator_name text, p_reason text, p_client_address text)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  o operators%ROWTYPE;
BEGIN
  SELECT * INTO o FROM operators WHERE name = p_operator_name AND disabled_at IS NULL;
  IF NOT FOUND THEN RETURN 'unknown_operator'; END IF;
  IF NOT EXISTS (SELECT 1 FROM users WHERE id = p_user_id) THEN RETURN 'not_found'; END IF;
  INSERT INTO user_tiers (user_id, tier, set_by, reason) VALUES (p_user_id, p_tier, 'operator:' || o.name, p_reason)
  ON CONFLICT (user_id) DO UPDATE SET tier = EXCLUDED.tier, set_by = EXCLUDED.set_by, reason = EXCLUDED.reason, updated_at = now();
  INSERT INTO operator_actions (operator_name, action, subject, reason, via, client_address, outcome, details)
  VALUES (o.name, 'set_user_tier', p_user_id::text, p_reason, 'operator-api', left(p_client_address, 64), 'success', jsonb_build_object('tier', p_tier));
  INSERT INTO security_events (kind, outcome, user_id, actor, client_address, subject, details)
  VALUES ('operator.set_user_tier', 'success', p_user_id, 'operator:' || o.name, left(p_client_address, 64), p_user_id::text,
    jsonb_build_object('tier', p_tier, 'reason', p_reason));
  RETURN 'set';
END $$;

DO $$
DECLARE
  entry text;
BEGIN
  FOREACH entry IN ARRAY ARRAY[
    'zp_refuse_limit(text, bigint, bigint, bigint, text)',
    'zp_check_limits(uuid, text, bigint, jsonb)',
    'zp_hold_transfer(transactions)',
    'zp_submit_checked_payment(uuid, text, uuid, uuid, bigint, text, text, bytea, text, text, text, bytea, integer, integer, jsonb, jsonb)',
    'zp_decide_review(uuid, text, text, text, text, text)',
    'zp_expire_review(uuid)',
    'zp_set_user_tier(uuid, text, text, text, text)',
    'operator_actions_append_only()'
  ] LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', entry);
  END LOOP;
END $$;
GRANT EXECUTE ON FUNCTION zp_submit_checked_payment(uuid, text, uuid, uuid, bigint, text, text, bytea, text, text, text, bytea, integer, integer, jsonb, jsonb) TO zenpay_app;
GRANT EXECUTE ON FUNCTION zp_decide_review(uuid, text, text, text, text, text) TO zenpay_app;
GRANT EXECUTE ON FUNCTION zp_expire_review(uuid) TO zenpay_app;
GRANT EXECUTE ON FUNCTION zp_set_user_tier(uuid, text, text, text, text) TO zenpay_app;
GRANT SELECT ON user_tiers, fraud_decisions TO zenpay_app;
GRANT SELECT, INSERT ON operators, operator_actions TO zenpay_app;
GRANT UPDATE (disabled_at) ON operators TO zenpay_app;
GRANT SELECT, INSERT ON operator_sessions TO zenpay_app;
GRANT UPDATE (revoked_at) ON operator_sessions TO zenpay_app;

-- Down Migration

REVOKE ALL ON user_tiers, fraud_decisions, operators, operator_actions, operator_sessions FROM zenpay_app;
DROP FUNCTION zp_set_user_tier(uuid, text, text, text, text);
DROP FUNCTION zp_expire_review(uuid);
DROP FUNCTION zp_decide_review(uuid, text, text, text, text, text);
DROP FUNCTION zp_submit_checked_payment(uuid, text, uuid, uuid, bigint, text, text, bytea, text, text, text, bytea, integer, integer, jsonb, jsonb);
DROP FUNCTION zp_hold_transfer(transactions);
DROP FUNCTION zp_check_limits(uuid, text, bigint, jsonb);
DROP FUNCTION zp_refuse_limit(text, bigint, bigint, bigint, text);
-- zp_post_transfer and zp_end_transaction keep their new bodies, which behave as the old ones wherever
-- no payment is IN_REVIEW and no transfer holds; zp_confirm_payment reads fraud_decisions, so its old
-- body comes back.
CREATE OR REPLACE FUNCTION zp_confirm_payment(p_id uuid, p_user_id uuid, p_verified boolean, p_code_hash bytea)
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
DROP TRIGGER operator_actions_no_truncate ON operator_actions;
DROP TRIGGER operator_actions_append_only ON operator_actions;
DROP FUNCTION operator_actions_append_only();
DROP TABLE operator_actions;
DROP TABLE operator_sessions;
DROP TABLE operators;
DROP TABLE fraud_decisions;
DROP TABLE user_tiers;
DROP INDEX transactions_counterparty_created;
DROP INDEX transactions_user_kind_created;
DROP INDEX transactions_unfinished;
CREATE INDEX transactions_unfinished ON transactions (status, created_at)
  WHERE status IN ('PENDING', 'AWAITING_CONFIRMATION', 'AWAITING_BANK');
ALTER TABLE transactions DROP CONSTRAINT transactions_status_check;
ALTER TABLE transactions ADD CONSTRAINT transactions_status_check
  CHECK (status IN ('PENDING', 'AWAITING_CONFIRMATION', 'AWAITING_BANK', 'COMPLETED', 'FAILED', 'EXPIRED'));
