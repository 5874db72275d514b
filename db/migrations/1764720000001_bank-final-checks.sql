-- An on-ramp that ended without credit because the bank could not be reached (FAILED BANK_UNAVAILABLE)
-- may still have been paid at the bank: the reconciler asks the bank about each until the bank's
-- final word is recorded here (or a refund gave the money back), so none is left unlooked at.

-- Up Migration

CREATE TABLE bank_final_checks (
  transaction_id uuid PRIMARY KEY REFERENCES transactions (id),
  bank_status    text NOT NULL CHECK (bank_status IN ('failed', 'canceled', 'missing', 'succeeded')),
  checked_at     timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION zp_record_bank_final(p_transaction_id uuid, p_bank_status text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
  INSERT INTO bank_final_checks (transaction_id, bank_status) VALUES (p_transaction_id, p_bank_status)
  ON CONFLICT (transaction_id) DO NOTHING
$$;
REVOKE EXECUTE ON FUNCTION zp_record_bank_final(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION zp_record_bank_final(uuid, text) TO zenpay_app;
GRANT SELECT ON bank_final_checks TO zenpay_app;

-- Down Migration

DROP FUNCTION zp_record_bank_final(uuid, text);
DROP TABLE bank_final_checks;
