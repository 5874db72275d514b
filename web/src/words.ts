// Names of kinds and statuses as people read them.
export const kindWords: Record<string, string> = { TRANSFER: 'Transfer', ON_RAMP: 'Added from bank', OFF_RAMP: 'Withdrawal' };
export const statusWords: Record<string, string> = {
  PENDING: 'Processing',
  AWAITING_CONFIRMATION: 'Needs your confirmation',
  IN_REVIEW: 'Being reviewed',
  AWAITING_BANK: 'Waiting for the bank',
  COMPLETED: 'Completed',
  FAILED: 'Failed',
  EXPIRED: 'Expired',
};

const dateTime = new Intl.DateTimeFormat('en-IN', { dateStyle: 'medium', timeStyle: 'short' });
const time = new Intl.DateTimeFormat('en-IN', { timeStyle: 'short' });
export const formatDateTime = (value: string): string => dateTime.format(new Date(value));
export const formatTime = (value: string | Date): string => time.format(typeof value === 'string' ? new Date(value) : value);
