-- The daily statement reconciliation's reports: the bank's list of succeeded payments, payouts and
-- refunds for a period compared with the ledger, every mismatch kept for operators.

-- Up Migration

CREATE TABLE statement_reconciliations (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  period_from timestamptz NOT NULL,
  period_to   timestamptz NOT NULL CHECK (period_to > period_from),
  ran_at      timestamptz NOT NULL DEFAULT now(),
  payments    integer NOT NULL CHECK (payments >= 0),
  payouts     integer NOT NULL CHECK (payouts >= 0),
  refunds     integer NOT NULL CHECK (refunds >= 0),
  -- [{kind, reference, bankObjectId, amount, detail}], at most a bounded number (see activities/statement.ts).
  mismatches  jsonb NOT NULL DEFAULT '[]'::jsonb,
  mismatch_count integer NOT NULL CHECK (mismatch_count >= 0)
);
CREATE INDEX statement_reconciliations_period ON statement_reconciliations (period_from);

GRANT SELECT, INSERT ON statement_reconciliations TO zenpay_app;

-- Down Migration

DROP TABLE statement_reconciliations;
