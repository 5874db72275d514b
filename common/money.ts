// Money is a bigint of minor units (paise) in code and a string of decimal digits on the wire.
// This module is the only place that turns one into the other.

/** Inputs: 1 to 15 ASCII digits, no sign, no dot, no exponent, no leading zero. */
export const moneyInputPattern = /^[1-9][0-9]{0,14}$/;
export const moneyDigitsMax = 15;

export class MoneyFormatError extends Error {
  override readonly name = 'MoneyFormatError';
}

/** Parses an input amount (always > 0). Throws MoneyFormatError on anything else. */
export function parseMoneyInput(value: unknown): bigint {
  if (typeof value !== 'string') {
    throw new MoneyFormatError('Money must be a string of decimal digits, e.g. "1050" for 10.50');
  }
  if (!moneyInputPattern.test(value)) {
    throw new MoneyFormatError(
      `Money must be 1 to ${moneyDigitsMax} digits with no sign, dot, exponent or leading zero, e.g. "1050"`,
    );
  }
  return BigInt(value);
}

/** Formats an amount (zero or more) as the wire's digit string. */
export function formatMoney(amountMinor: bigint): string {
  if (amountMinor < 0n) throw new RangeError(`negative amount ${amountMinor} cannot be formatted as Money`);
  return amountMinor.toString(10);
}

/** Shows minor units as a rupee amount for people, e.g. 105000n -> "1,050.00". String work only, no floats. */
export function formatRupees(amountMinor: bigint): string {
  const negative = amountMinor < 0n;
  const digits = (negative ? -amountMinor : amountMinor).toString().padStart(3, '0');
  const rupees = digits.slice(0, -2).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}${rupees}.${digits.slice(-2)}`;
}
