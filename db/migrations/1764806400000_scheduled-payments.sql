-- Scheduled and recurring payments (issue 15): the table is the source of truth for ownership, listing
-- and state; each ACTIVE or PAUSED one has a Temporal Schedule (zenpay-scheduled-<id>) kept in step with
-- it by a workflow. Each run records one row, keyed by the schedule's action time, naming the ordinary
-- TRANSFER it submitted (or the code of its refusal). The application role writes both only through the
-- SECURITY DEFINER functions below, as it writes payments.

-- Up Migration

CREATE TABLE scheduled_payments (
  id                  uuid PRIMARY KEY,
  user_id             uuid NOT NULL REFERENCES users (id),
  payee_user_id       uuid NOT NULL REFERENCES users (id),
  amount              bigint NOT NULL CHECK (amount > 0),
  currency            text NOT NULL DEFAULT 'INR' CHECK (currency = 'INR'),
  note                text CHECK (char_length(note) <= 140),
  cadence             text NOT NULL CHECK (cadence IN ('ONCE', 'MONTHLY', 'WEEKLY', 'EVERY_SECONDS')),
  -- ONCE: the instant; MONTHLY: day_of_month and time_of_day; WEEKLY: day_of_week and time_of_day (both in
  -- time_zone); EVERY_SECONDS (outside production only, for tests): every_seconds.
  run_at              timestamptz,
  day_of_month        smallint CHECK (day_of_month BETWEEN 1 AND 28),
  day_of_week         text CHECK (day_of_week IN ('SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY')),
  time_of_day         text CHECK (time_of_day ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
  every_seconds       integer CHECK (every_seconds BETWEEN 1 AND 86400),
  time_zone           text NOT NULL,
  status              text NOT NULL CHECK (status IN ('AWAITING_CONFIRMATION', 'ACTIVE', 'PAUSED', 'COMPLETED', 'CANCELED', 'DELETED')),
  idempotency_key     text NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
  request_fingerprint bytea NOT NULL,
  -- The step-up challenge given at scheduling time (runs are pre-authorised by it): method, the SMS
  -- code's HMAC (bound to this id), attempts and expiry.
  confirm_method      text CHECK (confirm_method IN ('TOTP', 'SMS')),
  confirm_code_hash   bytea,
  confirm_attempts    integer NOT NULL DEFAULT 0,
  confirm_attempts_max integer,
  confirm_expires_at  timestamptz,
  confirmed_at        timestamptz,
  -- Bumped by every change of state; the Temporal side records the version it matched.
  version             bigint NOT NULL DEFAULT 1,
  synced_version      bigint NOT NULL DEFAULT 0,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, idempotency_key),
  CONSTRAINT scheduled_payments_not_self CHECK (payee_user_id <> user_id),
  CONSTRAINT scheduled_payments_cadence CHECK (CASE cadence
    WHEN 'ONCE' THEN run_at IS NOT NULL
    WHEN 'MONTHLY' THEN day_of_month IS NOT NULL AND time_of_day IS NOT NULL
    WHEN 'WEEKLY' THEN day_of_week IS NOT NULL AND time_of_day IS NOT NULL
    ELSE every_seconds IS NOT NULL END),
  CONSTRAINT scheduled_payments_challenge CHECK ((status = 'AWAITING_CONFIRMATION') <= (confirm_method IS NOT NULL))
);
CREATE INDEX scheduled_payments_user ON scheduled_payments (user_id, created_at) WHERE status <> 'DELETED';

CREATE TABLE scheduled_payment_runs (
  scheduled_payment_id uuid NOT NULL REFERENCES scheduled_payments (id),
  -- The Temporal Schedule's action time (TemporalScheduledStartTime): one run per action time.
  scheduled_at         timestamptz NOT NULL,
  -- The TRANSFER it submitted (its status is the run's outcome), or why none was recorded.
  transaction_id       uuid UNIQUE REFERENCES transactions (id),
  refusal_code         text CHECK (refusal_code ~ '^[A-Z][A-Z_]{1,63}$'),
  created_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scheduled_payment_id, scheduled_at),
  CONSTRAINT scheduled_payment_runs_outcome CHECK ((transaction_id IS NULL) <> (refusal_code IS NULL))
);

-- Records a scheduled payment (or returns the one its user made with this idempotency key), AWAITING_CONFIRMATION
-- with its challenge when step-up applies, else ACTIVE. At most p_live_max not ended per user (ZP002).
CREATE FUNCTION zp_create_scheduled_payment(
  p_id uuid, p_user_id uuid, p_payee_user_id uuid, p_amount bigint, p_note text, p_cadence text, p_run_at timestamptz,
  p_day_of_month smallint, p_day_of_week text, p_time_of_day text, p_every_seconds integer, p_time_zone text,
  p_idempotency_key text, p_request_fingerprint bytea, p_confirm_method text, p_code_hash bytea,
  p_confirm_within_seconds integer, p_attempts_max integer, p_live_max integer
) RETURNS SETOF scheduled_payments LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  s scheduled_payments%ROWTYPE;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('zenpay-scheduled-payments:' || p_user_id::text, 0));
  SELECT * INTO s FROM scheduled_payments WHERE user_id = p_user_id AND idempotency_key = p_idempotency_key;
  IF FOUND THEN
    RETURN NEXT s;
    RETURN;
  END IF;
  IF (SELECT count(*) FROM scheduled_payments WHERE user_id = p_user_id
      AND status IN ('AWAITING_CONFIRMATION', 'ACTIVE', 'PAUSED')) >= p_live_max THEN
    RAISE EXCEPTION 'at most % scheduled payments', p_live_max USING ERRCODE = 'ZP002';
  END IF;
  INSERT INTO scheduled_payments (id, user_id, payee_user_id, amount, note, cadence, run_at, day_of_month, day_of_week,
    time_of_day, every_seconds, time_zone, status, idempotency_key, request_fingerprint, confirm_method,
    confirm_code_hash, confirm_attempts_max, confirm_expires_at)
  VALUES (p_id, p_user_id, p_payee_user_id, p_amount, p_note, p_cadence, p_run_at, p_day_of_month, p_day_of_week,
    p_time_of_day, p_every_seconds, p_time_zone,
    CASE WHEN p_confirm_method IS NULL THEN 'ACTIVE' ELSE 'AWAITING_CONFIRMATION' END,
    p_idempotency_key, p_request_fingerprint, p_confirm_method, p_code_hash, p_attempts_max,
    CASE WHEN p_confirm_method IS NOT NULL THEN now() + make_interval(secs => p_confirm_within_seconds) END)
  RETURNING * INTO s;
  INSERT INTO security_events (kind, outcome, user_id, actor, subject, details)
  VALUES ('scheduled_payment.created', 'success', p_user_id, 'user', s.id::text,
    jsonb_build_object('amount', s.amount::text, 'payee', s.payee_user_id, 'cadence', s.cadence, 'status', s.status));
  RETURN NEXT s;
END $$;

-- Confirms a scheduled payment waiting for its user's second factor: p_verified (a TOTP code the API
-- checked) or p_code_hash (the SMS code's HMAC). 'confirmed', 'wrong', 'failed' (the last wrong one:
-- CANCELED), 'expired' (CANCELED), 'not_awaiting' or 'not_found' (not this user's).
CREATE FUNCTION zp_confirm_scheduled_payment(p_id uuid, p_user_id uuid, p_verified boolean, p_code_hash bytea)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  s scheduled_payments%ROWTYPE;
BEGIN
  SELECT * INTO s FROM scheduled_payments WHERE id = p_id AND user_id = p_user_id AND status <> 'DELETED' FOR UPDATE;
  IF NOT FOUND THEN RETURN 'not_found'; END IF;
  IF s.status <> 'AWAITING_CONFIRMATION' THEN RETURN 'not_awaiting'; END IF;
  IF s.confirm_expires_at <= now() THEN
    UPDATE scheduled_payments SET status = 'CANCELED', version = version + 1, updated_at = now() WHERE id = p_id;
    RETURN 'expired';
  END IF;
  IF p_verified OR (s.confirm_method = 'SMS' AND p_code_hash IS NOT NULL AND p_code_hash = s.confirm_code_hash) THEN
    UPDATE scheduled_payments SET status = 'ACTIVE', confirmed_at = now(), confirm_code_hash = NULL,
      version = version + 1, updated_at = now() WHERE id = p_id;
    RETURN 'confirmed';
  END IF;
  IF s.confirm_attempts + 1 >= s.confirm_attempts_max THEN
    UPDATE scheduled_payments SET status = 'CANCELED', confirm_attempts = confirm_attempts + 1, confirm_code_hash = NULL,
      version = version + 1, updated_at = now() WHERE id = p_id;
    RETURN 'failed';
  END IF;
  UPDATE scheduled_payments SET confirm_attempts = confirm_attempts + 1, updated_at = now() WHERE id = p_id;
  RETURN 'wrong';
END $$;

-- The user's pause, resume or delete: ACTIVE -> PAUSED, PAUSED -> ACTIVE, anything -> DELETED. Anything
-- else changes nothing (idempotent). No row: not found or not this user's.
CREATE FUNCTION zp_change_scheduled_payment(p_id uuid, p_user_id uuid, p_action text)
RETURNS SETOF scheduled_payments LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  s scheduled_payments%ROWTYPE;
  next_status text;
BEGIN
  SELECT * INTO s FROM scheduled_payments WHERE id = p_id AND user_id = p_user_id AND status <> 'DELETED' FOR UPDATE;
  IF NOT FOUND THEN RETURN; END IF;
  next_status := CASE
    WHEN p_action = 'pause' AND s.status = 'ACTIVE' THEN 'PAUSED'
    WHEN p_action = 'resume' AND s.status = 'PAUSED' THEN 'ACTIVE'
    WHEN p_action = 'delete' THEN 'DELETED'
    WHEN p_action IN ('pause', 'resume') THEN s.status
  END;
  IF next_status IS NULL THEN RAISE EXCEPTION 'unknown action %', p_action USING ERRCODE = 'check_violation'; END IF;
  IF next_status <> s.status THEN
    UPDATE scheduled_payments SET status = next_status, version = version + 1, updated_at = now() WHERE id = p_id RETURNING * INTO s;
    INSERT INTO security_events (kind, outcome, user_id, actor, subject, details)
    VALUES ('scheduled_payment.' || p_action, 'success', p_user_id, 'user', s.id::text, jsonb_build_object('status', s.status));
  END IF;
  RETURN NEXT s;
END $$;

-- Records a run (or returns the one recorded for this action time); a ONCE payment is COMPLETED by it.
CREATE FUNCTION zp_record_scheduled_run(p_id uuid, p_scheduled_at timestamptz, p_transaction_id uuid, p_refusal_code text)
RETURNS SETOF scheduled_payment_runs LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  INSERT INTO scheduled_payment_runs (scheduled_payment_id, scheduled_at, transaction_id, refusal_code)
  VALUES (p_id, p_scheduled_at, p_transaction_id, p_refusal_code)
  ON CONFLICT (scheduled_payment_id, scheduled_at) DO NOTHING;
  UPDATE scheduled_payments SET status = 'COMPLETED', version = version + 1, updated_at = now()
  WHERE id = p_id AND cadence = 'ONCE' AND status = 'ACTIVE';
  RETURN QUERY SELECT * FROM scheduled_payment_runs WHERE scheduled_payment_id = p_id AND scheduled_at = p_scheduled_at;
END $$;

-- The Temporal Schedule matches this version of the row (or a later one).
CREATE FUNCTION zp_note_scheduled_payment_synced(p_id uuid, p_version bigint) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE scheduled_payments SET synced_version = greatest(synced_version, p_version) WHERE id = p_id
$$;

REVOKE EXECUTE ON FUNCTION zp_create_scheduled_payment(uuid, uuid, uuid, bigint, text, text, timestamptz, smallint, text, text, integer, text, text, bytea, text, bytea, integer, integer, integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION zp_confirm_scheduled_payment(uuid, uuid, boolean, bytea) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION zp_change_scheduled_payment(uuid, uuid, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION zp_record_scheduled_run(uuid, timestamptz, uuid, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION zp_note_scheduled_payment_synced(uuid, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION zp_create_scheduled_payment(uuid, uuid, uuid, bigint, text, text, timestamptz, smallint, text, text, integer, text, text, bytea, text, bytea, integer, integer, integer) TO zenpay_app;
GRANT EXECUTE ON FUNCTION zp_confirm_scheduled_payment(uuid, uuid, boolean, bytea) TO zenpay_app;
GRANT EXECUTE ON FUNCTION zp_change_scheduled_payment(uuid, uuid, text) TO zenpay_app;
GRANT EXECUTE ON FUNCTION zp_record_scheduled_run(uuid, timestamptz, uuid, text) TO zenpay_app;
GRANT EXECUTE ON FUNCTION zp_note_scheduled_payment_synced(uuid, bigint) TO zenpay_app;
GRANT SELECT ON scheduled_payments, scheduled_payment_runs TO zenpay_app;

-- Down Migration

REVOKE ALL ON scheduled_payments, scheduled_payment_runs FROM zenpay_app;
DROP FUNCTION zp_note_scheduled_payment_synced(uuid, bigint);
DROP FUNCTION zp_record_scheduled_run(uuid, timestamptz, uuid, text);
DROP FUNCTION zp_change_scheduled_payment(uuid, uuid, text);
DROP FUNCTION zp_confirm_scheduled_payment(uuid, uuid, boolean, bytea);
DROP FUNCTION zp_create_scheduled_payment(uuid, uuid, uuid, bigint, text, text, timestamptz, smallint, text, text, integer, text, text, bytea, text, bytea, integer, integer, integer);
DROP TABLE scheduled_payment_runs;
DROP TABLE scheduled_payments;
