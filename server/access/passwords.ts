// Password hashing: argon2id with OWASP's minimum parameters (19 MiB, 2 passes,
// one lane), and the password rules people are held to.
import argon2 from 'argon2';

export const passwordHashParameters = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, passwordHashParameters);
}

/** False for a wrong password and for a hash that is not an argon2 hash. */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | null = null;
/** Spends the time of one verification, so an unknown username answers as slowly as a known one. */
export async function verifyNothing(password: string): Promise<void> {
  dummy ??= hashPassword('no such user: the time of one verification');
  await verifyPassword(await dummy, password);
}

export const minPasswordLength = 10;

/** Why a new password is refused, or null. */
export function passwordProblem(password: string, username: string): string | null {
  if (password.length < minPasswordLength) return `a password needs at least ${minPasswordLength} characters`;
  if (password.length > 256) return 'a password may have at most 256 characters';
  if (password.toLowerCase().includes(username.toLowerCase())) return 'a password may not contain the username';
  if (new Set(password).size < 5) return 'a password needs at least 5 different characters';
  return null;
}
