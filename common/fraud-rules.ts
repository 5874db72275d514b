// The fraud rules, in one readable table: each is data (name, threshold, window, weight). A payment
// (send or withdraw) scores the sum of the weights of the rules that fire; at FRAUD_REVIEW_SCORE or more
// it waits IN_REVIEW for an operator. FRAUD_RULES overrides single fields ("NAME.field=value").
export const fraudRuleNames = [
  'VELOCITY_COUNT',
  'VELOCITY_AMOUNT',
  'NEW_PAYEES',
  'FIRST_LARGE_AFTER_SIGN_UP',
  'NEW_SESSION',
  'JUST_UNDER_LIMIT',
  'FAILED_BURST',
  'PAYEE_MANY_NEW_SENDERS',
] as const;
export type FraudRuleName = (typeof fraudRuleNames)[number];

export interface FraudRule {
  name: FraudRuleName;
  /** What fires it, as the README says it. */
  description: string;
  /** A count, an amount in paise, or a percentage, as the description says. */
  threshold: bigint;
  windowSeconds: number;
  weight: number;
}

export type FraudRuleTable = Record<FraudRuleName, FraudRule>;

const rule = (name: FraudRuleName, threshold: bigint, windowSeconds: number, weight: number, description: string): [FraudRuleName, FraudRule] => [
  name,
  { name, threshold, windowSeconds, weight, description },
];

export const defaultFraudRules: FraudRuleTable = Object.fromEntries([
  rule('VELOCITY_COUNT', 10n, 3600, 30, 'this payment is at least the threshold-th send or withdrawal (not failed) of the user in the window'),
  rule('VELOCITY_AMOUNT', 5_000_000n, 3600, 30, 'the user\'s sends and withdrawals (not failed) in the window, this one included, add up to at least the threshold (paise)'),
  rule('NEW_PAYEES', 4n, 3600, 30, 'a send, and at least the threshold of payees first paid within the window, this one included'),
  rule('FIRST_LARGE_AFTER_SIGN_UP', 500_000n, 7 * 86_400, 50, 'the user signed up within the window and this is their first payment of at least the threshold (paise)'),
  rule('NEW_SESSION', 200_000n, 3600, 30, 'a payment of at least the threshold (paise) from a session (device) started within the window, on an account older than the window'),
  rule('JUST_UNDER_LIMIT', 90n, 0, 20, 'the amount is at least the threshold (percent) of the user\'s per-payment limit (with limits on)'),
  rule('FAILED_BURST', 5n, 900, 40, 'at least the threshold of the user\'s payments failed or were refused by a limit within the window'),
  rule('PAYEE_MANY_NEW_SENDERS', 10n, 3600, 30, 'a send to a payee who received from at least the threshold of new senders within the window, this one included'),
]) as FraudRuleTable;

export const defaultReviewScore = 50;

/** Parses FRAUD_RULES, e.g. "VELOCITY_COUNT.threshold=3,VELOCITY_COUNT.windowSeconds=600,NEW_PAYEES.weight=60"; throws on a bad entry. */
export function parseFraudRuleOverrides(text: string): FraudRuleTable {
  const table = Object.fromEntries(fraudRuleNames.map((name) => [name, { ...defaultFraudRules[name] }])) as FraudRuleTable;
  for (const entry of text.split(',').map((item) => item.trim()).filter(Boolean)) {
    const match = /^([A-Z_]+)\.(threshold|windowSeconds|weight)=([0-9]{1,15})$/.exec(entry);
    const name = match?.[1] as FraudRuleName | undefined;
    if (!match || !fraudRuleNames.includes(name!)) {
      throw new Error(`"${entry}" is not RULE.field=number with RULE one of ${fraudRuleNames.join(', ')} and field threshold, windowSeconds or weight`);
    }
    const value = match[3]!;
    if (match[2] === 'threshold') table[name!].threshold = BigInt(value);
    else if (match[2] === 'windowSeconds') table[name!].windowSeconds = Math.min(Number(value), 366 * 86_400);
    else table[name!].weight = Math.min(Number(value), 1000);
  }
  return table;
}
