// Defaults that make a local system work with no settings. DEVELOPMENT ONLY: these are public.

/**
 * The webhook secret shared by the bank simulator and the API when none is configured.
 * It decodes to the text "zenpay-development-webhook-secret-do-not-use-in-production" (58 bytes).
 */
export const developmentWebhookSecret =
  'whsec_emVucGF5LWRldmVsb3BtZW50LXdlYmhvb2stc2VjcmV0LWRvLW5vdC11c2UtaW4tcHJvZHVjdGlvbg==';

/** Banks the simulator plays; the API accepts these codes for addMoney and withdraw by default. */
export const developmentBanks = ['HDFC', 'ICICI', 'SBI', 'AXIS', 'KOTAK', 'PNB', 'BOB', 'YES'] as const;

/** The password of the application's database role (zenpay_app) on a local system. */
export const developmentAppDatabasePassword = 'zenpay-app-development';
