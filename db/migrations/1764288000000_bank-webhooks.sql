-- Bank webhooks received, one row per webhook-id: a repeat is recognised and has no second effect.

-- Up Migration

CREATE TABLE bank_webhooks (
  webhook_id     text PRIMARY KEY CHECK (char_length(webhook_id) BETWEEN 1 AND 255),
  event_type     text NOT NULL,
  reference      text NOT NULL,
  bank_object_id text NOT NULL,
  status         text NOT NULL,
  payload        jsonb NOT NULL,
  received_at    timestamptz NOT NULL DEFAULT now(),
  -- Set once the outcome was handed to the workflow (or found to concern a finished one).
  handled_at     timestamptz,
  effect         text
);
CREATE INDEX bank_webhooks_reference ON bank_webhooks (reference);

-- Down Migration

DROP TABLE bank_webhooks;
