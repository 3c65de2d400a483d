// Password hashing: argon2id with OWASP's minimum parameters (19 MiB, 2 passes,
// one lane). Where the argon2 package's native binary does not load on this
// machine (probed once in a child process: on some machines it crashes the
// process outright, so it is never loaded here untested), scrypt from
// node:crypto (N=2^15, r=8, p=1: 32 MiB), as OWASP's second choice. Hashes say
// which they are, so both verify side by side.
import { spawnSync } from 'node:child_process';
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { repoRoot } from '../config.js';

type Argon2 = typeof import('argon2');
const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

export const argon2Parameters = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
const scryptParameters = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

let argon2: Promise<Argon2 | null> | null = null;
function loadArgon2(): Promise<Argon2 | null> {
  argon2 ??= (async () => {
    if (process.env['PLEA_PASSWORD_HASH'] === 'scrypt') return null;
    const probe = spawnSync(process.execPath, ['-e', "require('argon2').hash('probe').then(() => process.exit(0), () => process.exit(1))"], { cwd: repoRoot, timeout: 20_000, stdio: 'ignore' });
    if (probe.status !== 0) return null;
    const mod = (await import('argon2')) as Argon2 & { default?: Argon2 };
    return mod.default ?? mod;
  })();
  return argon2;
}

/** Which hash new passwords get: 'argon2id', or 'scrypt' where argon2 cannot load. */
export async function passwordHashName(): Promise<'argon2id' | 'scrypt'> {
  return (await loadArgon2()) ? 'argon2id' : 'scrypt';
}

export async function hashPassword(password: string): Promise<string> {
  const a = await loadArgon2();
  if (a) return a.hash(password, { type: a.argon2id, ...argon2Parameters });
  const salt = randomBytes(16);
  const key = await scrypt(password.normalize('NFC'), salt, 32, scryptParameters);
  return `$scrypt$ln=15,r=8,p=1$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** False for a wrong password and for a hash it cannot read. */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    if (hash.startsWith('$argon2')) {
      const a = await loadArgon2();
      return a ? await a.verify(hash, password) : false;
    }
    const m = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(hash);
    if (!m) return false;
    const expected = Buffer.from(m[5] as string, 'base64url');
    const key = await scrypt(password.normalize('NFC'), Buffer.from(m[4] as string, 'base64url'), expected.length, {
      N: 2 ** Number(m[1]), r: Number(m[2]), p: Number(m[3]), maxmem: 256 * 1024 * 1024,
    });
    return key.length === expected.length && timingSafeEqual(key, expected);
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
