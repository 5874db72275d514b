// Rate limits for systems that legitimately sign up many users from one address (127.0.0.1): test
// systems, the benchmark and the failure drill (and step-up, payment limits and fraud rules off: their
// own tests turn them on). Per-phone limits keep their defaults.
export const generousRateLimits: Readonly<Record<string, string>> = {
  RATE_LIMIT_SIGN_IN_FAILURES_PER_ADDRESS: '100000/3600',
  RATE_LIMIT_CODES_PER_ADDRESS: '100000/3600',
  RATE_LIMIT_SIGN_UPS_PER_ADDRESS: '100000/3600',
  RATE_LIMIT_MUTATIONS_PER_USER: '100000/60',
  RATE_LIMIT_PAYEE_LOOKUPS_PER_USER: '100000/3600',
  // Step-up confirmation would stop every scripted payment to a new payee: the tests of step-up turn it on.
  STEP_UP_AMOUNT_OVER: '999999999999999',
  STEP_UP_NEW_PAYEE: 'false',
  STEP_UP_NEW_BANK_ACCOUNT: 'false',
  // Scripted users move far more, far faster, to far more new payees than people do: api/fraud.test.ts
  // and api/operator.test.ts turn limits and rules on.
  PAYMENT_LIMITS_ENABLED: 'false',
  FRAUD_RULES_ENABLED: 'false',
};
