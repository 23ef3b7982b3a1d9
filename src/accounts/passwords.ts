import { readFileSync } from 'node:fs';
import * as argon2 from 'argon2';
import { COMMON_PASSWORDS } from './common-passwords.js';
import type { AccountsErrorCode } from './errors.js';

/** argon2id cost; the defaults are OWASP's minimum recommendation (19 MiB, 2 passes, 1 lane). */
export interface PasswordCost {
  memoryKiB: number;
  passes: number;
}

export const DEFAULT_PASSWORD_COST: PasswordCost = { memoryKiB: 19 * 1024, passes: 2 };

export const MAX_PASSWORD_LENGTH = 1024;

export function hashPassword(password: string, cost: PasswordCost): Promise<string> {
  return argon2.hash(password, { type: argon2.argon2id, memoryCost: cost.memoryKiB, timeCost: cost.passes, parallelism: 1 });
}

/** argon2's verify compares the derived hash in constant time. Any malformed stored hash is a mismatch. */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(passwordHash, password);
  } catch {
    return false;
  }
}

/**
 * Refuses passwords that are short, or found on the breached list: the bundled list of the most
 * common passwords plus, when configured, an operator's own file (one password per line, e.g. a
 * download of a larger breach corpus), read once at start.
 */
export class PasswordPolicy {
  private readonly breached: ReadonlySet<string>;

  constructor(
    private readonly minLength: number,
    extraListFile: string | null = null,
  ) {
    const breached = new Set(COMMON_PASSWORDS);
    if (extraListFile) {
      for (const line of readFileSync(extraListFile, 'utf8').split(/\r?\n/)) {
        const entry = line.trim();
        if (entry !== '' && !entry.startsWith('#')) breached.add(entry.toLowerCase());
      }
    }
    this.breached = breached;
  }

  /** null when acceptable, else the error that names the reason. */
  check(password: string, email: string): AccountsErrorCode | null {
    if ([...password].length < this.minLength) return 'passwordTooShort';
    if (password.length > MAX_PASSWORD_LENGTH) return 'passwordTooLong';
    if (password.toLowerCase() === email.toLowerCase()) return 'passwordIsEmail';
    if (this.breached.has(password.toLowerCase())) return 'passwordBreached';
    return null;
  }
}
