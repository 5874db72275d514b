// The pure parts of two-factor authentication, no I/O: TOTP secrets (RFC 6238 as authenticator apps
// take them: SHA1, 6 digits, 30 s), their encryption at rest (AES-256-GCM bound to the user), and
// single-use recovery codes, which are stored only as HMACs. Both keys derive from one configured key.
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, randomInt } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';

export const totpIssuer = 'ZenPAY';
export const totpDigits = 6;
export const totpPeriodSeconds = 30;
/** Codes of one step before or after the server's are accepted too (clock drift, typing time). */
export const totpWindowSteps = 1;
/** 160 bits, RFC 4226's recommendation and what authenticator apps expect. */
export const totpSecretBytes = 20;
export const recoveryCodeCount = 10;

const nonceBytes = 12;
const tagBytes = 16;
/** What two_factor.secret_ciphertext holds: nonce, ciphertext of the secret, tag. */
export const secretCiphertextBytes = nonceBytes + totpSecretBytes + tagBytes;

// Crockford's base32 (no i, l, o, u): unambiguous to read and type; 12 characters carry 60 bits.
const recoveryAlphabet = '0123456789abcdefghjkmnpqrstvwxyz';
const recoveryGroupLength = 4;
const recoveryGroups = 3;
const recoveryCodePattern = /^[0-9a-z]{4}-?[0-9a-z]{4}-?[0-9a-z]{4}$/i;
const totpCodePattern = new RegExp(`^[0-9]{${totpDigits}}$`);

export interface TwoFactorKeys {
  secretKey: Buffer;
  recoveryKey: Buffer;
}

const derivedKeys = new Map<string, TwoFactorKeys>();

/** Separate subkeys of the configured key for encryption and for hashing (HKDF-SHA256). */
export function twoFactorKeys(configuredKeyBase64: string): TwoFactorKeys {
  let keys = derivedKeys.get(configuredKeyBase64);
  if (!keys) {
    const master = Buffer.from(configuredKeyBase64, 'base64');
    assert.equal(master.length, 32, 'TWO_FACTOR_ENCRYPTION_KEY must be 32 bytes (checked by the configuration)');
    const derive = (info: string) => Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), info, 32));
    keys = { secretKey: derive('zenpay two-factor secret encryption v1'), recoveryKey: derive('zenpay two-factor recovery codes v1') };
    derivedKeys.set(configuredKeyBase64, keys);
  }
  return keys;
}

/** The user id is the additional data: a ciphertext copied onto another user's row does not decrypt. */
const associatedData = (userId: string) => Buffer.from(`zenpay-totp:${userId.toLowerCase()}`);

export function encryptSecret(keys: TwoFactorKeys, userId: string, secret: Buffer): Buffer {
  assert.equal(secret.length, totpSecretBytes);
  const nonce = randomBytes(nonceBytes);
  const cipher = createCipheriv('aes-256-gcm', keys.secretKey, nonce, { authTagLength: tagBytes });
  cipher.setAAD(associatedData(userId));
  return Buffer.concat([nonce, cipher.update(secret), cipher.final(), cipher.getAuthTag()]);
}

/** Throws when the ciphertext was not made under this key for this user: never a silent wrong secret. */
export function decryptSecret(keys: TwoFactorKeys, userId: string, stored: Buffer): Buffer {
  assert.equal(stored.length, secretCiphertextBytes, 'a stored TOTP secret has the wrong length');
  const decipher = createDecipheriv('aes-256-gcm', keys.secretKey, stored.subarray(0, nonceBytes), { authTagLength: tagBytes });
  decipher.setAAD(associatedData(userId));
  decipher.setAuthTag(stored.subarray(stored.length - tagBytes));
  return Buffer.concat([decipher.update(stored.subarray(nonceBytes, stored.length - tagBytes)), decipher.final()]);
}

function totpOf(secret: Buffer, label = ''): TOTP {
  return new TOTP({
    issuer: totpIssuer,
    label,
    algorithm: 'SHA1',
    digits: totpDigits,
    period: totpPeriodSeconds,
    secret: new Secret({ buffer: Uint8Array.from(secret).buffer }),
  });
}

/** What an authenticator app needs: the otpauth:// URI (for a QR code) and the secret in base32. */
export function enrollmentOf(secret: Buffer, phone: string): { otpauthUri: string; secret: string } {
  const totp = totpOf(secret, phone);
  return { otpauthUri: totp.toString(), secret: totp.secret.base32 };
}

/** The time step a code belongs to, within the window around `nowMs`, or null when it matches none. */
export function matchingStep(secret: Buffer, code: string, nowMs: number): number | null {
  if (!totpCodePattern.test(code)) return null;
  const totp = totpOf(secret);
  const delta = totp.validate({ token: code, timestamp: nowMs, window: totpWindowSteps });
  return delta === null ? null : totp.counter({ timestamp: nowMs }) + delta;
}

export type CodeShape = 'totp' | 'recovery';

/** Which kind of code a string can be (6 digits, or a recovery code), or null when it is neither. */
export function codeShape(code: string): CodeShape | null {
  if (totpCodePattern.test(code)) return 'totp';
  if (normalizeRecoveryCode(code) !== null) return 'recovery';
  return null;
}

/** Lower case, no hyphens, Crockford's look-alikes (o → 0, i and l → 1) read as meant; null if not one. */
function normalizeRecoveryCode(code: string): string | null {
  if (!recoveryCodePattern.test(code)) return null;
  const normalized = code.toLowerCase().replaceAll('-', '').replaceAll('o', '0').replace(/[il]/g, '1');
  return [...normalized].every((character) => recoveryAlphabet.includes(character)) ? normalized : null;
}

/** Fresh recovery codes as shown to the user, e.g. "7k2q-m9xd-4hfa". */
export function newRecoveryCodes(): string[] {
  const codes = Array.from({ length: recoveryCodeCount }, () => {
    const characters = Array.from({ length: recoveryGroupLength * recoveryGroups }, () => recoveryAlphabet[randomInt(recoveryAlphabet.length)]!);
    const groups = Array.from({ length: recoveryGroups }, (_, index) => characters.slice(index * recoveryGroupLength, (index + 1) * recoveryGroupLength).join(''));
    return groups.join('-');
  });
  // Two equal codes out of 2^60 would be a broken random source, not bad luck.
  assert.equal(new Set(codes).size, recoveryCodeCount, 'recovery codes must be distinct');
  return codes;
}

/** HMAC-SHA256 of the normalized code, bound to its user; null when the string is no recovery code. */
export function recoveryCodeHash(keys: TwoFactorKeys, userId: string, code: string): Buffer | null {
  const normalized = normalizeRecoveryCode(code);
  if (normalized === null) return null;
  return createHmac('sha256', keys.recoveryKey).update(`${userId.toLowerCase()}:${normalized}`).digest();
}
