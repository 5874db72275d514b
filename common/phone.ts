// Phone numbers are stored and compared in E.164 form (+919876543210). Input must already be E.164;
// libphonenumber-js then checks that the number can exist in its country's numbering plan.
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { badInput } from './errors';

export const e164Pattern = /^\+[1-9][0-9]{6,14}$/;

export function parsePhone(value: string, field = 'phone'): string {
  if (!e164Pattern.test(value)) {
    throw badInput('Phone numbers must be in E.164 form: a plus sign, country code and number, e.g. +919876543210', field);
  }
  const parsed = parsePhoneNumberFromString(value);
  if (!parsed || !parsed.isValid() || parsed.number !== value) {
    throw badInput("That phone number does not exist in its country's numbering plan", field);
  }
  return parsed.number;
}
