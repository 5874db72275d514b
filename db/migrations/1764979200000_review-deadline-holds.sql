-- A review's deadline holds for operators too: a decision that arrives after it (before the payment's
-- workflow has woken to expire it) no longer approves or rejects the payment; it is rejected for want of a
-- decision (REVIEW_TIMEOUT, hold released), as the deadline promises, and the late decision is audited as
-- 'past_deadline'. Found by the failure drill's simulated operator under load.

-- Up Migration

-- Ends a payment IN_REVIEW whose deadline passed (the caller holds the transaction's lock): FAILED
-- REVIEW_TIMEOUT, hold released, review.timed_out recorded. Returns the row after.
CREATE FUNCTION zp_expire_review_locked(t transactions) RETURNS transactions LANGUAGE plpgsql AS $$
DECLARE
  voided boolean;
BEGIN
  UPDATE fraud_decisions SET review_outcome = 'TIMED_OUT', reviewed_by = 'system', reviewed_at = now()
  WHERE transaction_id = t.id;
  voided := zp_void_hold(t);
  t := zp_set_status(t.id, 'FAILED', 'REVIEW_TIMEOUT', CASE WHEN voided THEN ARRAY[t.user_id] ELSE '{}'::uuid[] END);
  INSERT INTO security_events (kind, outcome, user_id, actor, subject, details)
  VALUES ('review.timed_out', 'failure', t.user_id, 'system', t.id::text, jsonb_build_object('kind', t.kind, 'amount', t.amount::text));
  RETURN t;
END $$;
REVOKE EXECUTE ON FUNCTION zp_expire_review_locked(transactions) FROM PUBLIC;

-- No decision by the deadline (the workflow's timer): the same end, through the one function above.
CREATE OR REPLACE FUNCTION zp_expire_review(p_id uuid)
RETURNS TABLE (outcome_status text, outcome_failure_code text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  t transactions%ROWTYPE;
BEGIN
  SELECT * INTO t FROM transactions WHERE id = p_id FOR UPDATE;
  IF NOT FOUND THEN RAISE EXCEPTION 'transaction % does not exist', p_id USING ERRCODE = 'no_data_found'; END IF;
  IF t.status = 'IN_REVIEW' THEN
    t := zp_expire_review_locked(t);
  END IF;
  RETURN QUERY SELECT t.status, t.failure_code;
END $$;


CREATE OR REPLACE FUNCTION zp_decide_review(p_id uuid, p_decision text, p_operator_name text, p_via text, p_reason text, p_client_address text)
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
  ELSIF d.review_deadline_at IS NOT NULL AND clock_timestamp() >= d.review_deadline_at THEN
    -- Too late: the payment is rejected for want of a decision, whatever this one says, as its workflow's
    -- timer would have done (it then finds the payment final).
    answer := 'past_deadline';
    t := zp_expire_review_locked(t);
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

-- Down Migration

CREATE OR REPLACE FUNCTION zp_decide_review(p_id uuid, p_decision text, p_operator_name text, p_via text, p_reason text, p_client_address text)
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

CREATE OR REPLACE FUNCTION zp_expire_review(p_id uuid)
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
DROP FUNCTION zp_expire_review_locked(transactions);
