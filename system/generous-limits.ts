// Rate limits for systems that legitimately sign up many users from one address (127.0.0.1): test
// systems, the benchmark and the failure drill. Per-phone limits keep their defaults.
export const generousRateLimits: Readonly<Record<string, string>> = {
  RATE_LIMIT_SIGN_IN_FAILURES_PER_ADDRESS: '100000/3600',
  RATE_LIMIT_CODES_PER_ADDRESS: '100000/3600',
  RATE_LIMIT_SIGN_UPS_PER_ADDRESS: '100000/3600',
  RATE_LIMIT_MUTATIONS_PER_USER: '100000/60',
  RATE_LIMIT_PAYEE_LOOKUPS_PER_USER: '100000/3600',
};
