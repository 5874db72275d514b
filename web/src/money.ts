// Money in the app: paise as bigint (from the API's digit strings), rupees typed by people parsed with
// string arithmetic only. No float ever holds an amount.

const rupeeFormat = new Intl.NumberFormat('en-IN', { style: 'currency', currency: 'INR', minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** The API's digit string (or a bigint) as "₹1,23,456.78"; negative amounts get a minus sign. */
export function formatRupees(paise: bigint | string): string {
  const value = typeof paise === 'bigint' ? paise : BigInt(paise);
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(3, '0');
  // Intl formats a decimal string exactly (no conversion to a float): rupees and paise stay as typed.
  const text = rupeeFormat.format(`${digits.slice(0, -2)}.${digits.slice(-2)}` as unknown as number);
  return negative ? `−${text}` : text;
}

/** The largest amount the API takes: 15 digits of paise. */
const paiseDigitsMax = 15;

export type ParsedAmount = { ok: true; paise: string } | { ok: false; message: string };

/**
 * "1,234.5" -> "123450". Accepts digits with optional grouping commas and at most two decimals; refuses
 * zero, signs, exponents and anything else, with a message a person understands.
 */
export function parseRupees(input: string): ParsedAmount {
  const text = input.trim().replace(/^₹\s*/, '').replace(/[,\s]/g, '');
  if (text === '') return { ok: false, message: 'Enter an amount' };
  const match = /^(\d*)(?:\.(\d*))?$/.exec(text);
  if (!match || (match[1] === '' && (match[2] ?? '') === '')) return { ok: false, message: 'Enter the amount in rupees, e.g. 120.50' };
  const fraction = match[2] ?? '';
  if (fraction.length > 2) return { ok: false, message: 'Amounts have at most two digits after the point (paise)' };
  const paise = `${match[1] ?? ''}${fraction.padEnd(2, '0')}`.replace(/^0+/, '');
  if (paise === '') return { ok: false, message: 'The amount must be more than ₹0' };
  if (paise.length > paiseDigitsMax) return { ok: false, message: 'That amount is too large' };
  return { ok: true, paise };
}

export const sumPaise = (values: readonly string[]): bigint => values.reduce((total, value) => total + BigInt(value), 0n);
