// Secrets kept in the data directory when the config gives none: the join-link
// signing secret and one credential per room agent. Created once, mode 0600.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import { generateEvidenceKeyPem } from '../../recordings/disc/evidence-key.js';
import { ownValue } from '../validation.js';
import { auditKeys, type AuditKeys } from '../audit/audit-chain.js';
import { isAddressOrRange } from './agent-address.js';
import type { Logger } from '../logger.js';

export interface Secrets {
  joinSecret: string;
  agentCredentials: Record<string, string>;
  /** Room id → the addresses its agent may connect from (empty or absent: not bound). Not secret; kept beside the credential. */
  agentAddresses: Record<string, string[]>;
  /** The site's evidence key (Ed25519, PKCS#8 PEM): signs disc manifests. Never rotated by itself. */
  evidenceKeyPem: string;
  /** Signs session cookies and derives their CSRF tokens. */
  cookieSecret: string;
  /** The audit chain's HMAC key (base64url, 32 bytes). Never in the database. */
  auditKey: string;
  /** Signs the exported audit heads (Ed25519, PKCS#8 PEM). */
  auditSigningKeyPem: string;
}

/**
 * The secrets, created where missing. A file from before accounts may still hold
 * the shared staff keys (`staffKeys`): they grant nothing now and are removed from
 * the file, with a warning (`log`), so no old key lingers on disk.
 */
export function loadSecrets(config: Config, log?: Pick<Logger, 'warn'>): Secrets {
  const file = path.join(config.dataDir, 'secrets.json');
  let stored: Partial<Secrets> = {};
  if (existsSync(file)) stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<Secrets>;
  if (Object.hasOwn(stored, 'staffKeys')) {
    log?.warn({ file }, 'secrets.json held shared staff keys from before accounts: they are removed and grant nothing; staff sign in with their own accounts (detention_staff), machine clients use API tokens');
  }
  const secrets: Secrets = {
    joinSecret: config.access.joinSecret || stored.joinSecret || randomBytes(32).toString('base64url'),
    agentCredentials: {},
    agentAddresses: {},
    cookieSecret: stored.cookieSecret && stored.cookieSecret.length >= 32 ? stored.cookieSecret : randomBytes(32).toString('base64url'),
    evidenceKeyPem: stored.evidenceKeyPem || generateEvidenceKeyPem(),
    auditKey: typeof stored.auditKey === 'string' && stored.auditKey.length >= 43 ? stored.auditKey : randomBytes(32).toString('base64url'),
    auditSigningKeyPem: stored.auditSigningKeyPem || generateEvidenceKeyPem(),
  };
  for (const room of config.site.rooms) {
    const credential = ownValue(config.access.agentCredentials, room.id) ?? ownValue(stored.agentCredentials, room.id);
    Object.defineProperty(secrets.agentCredentials, room.id, {
      value: typeof credential === 'string' && credential.length >= 16 ? credential : randomBytes(24).toString('base64url'),
      enumerable: true, writable: true, configurable: true,
    });
  }
  for (const room of config.site.rooms) {
    // The administrator's binding (kept here) wins over the config's initial one.
    const kept = ownValue(stored.agentAddresses, room.id);
    const list = Array.isArray(kept) && kept.every((a) => typeof a === 'string' && isAddressOrRange(a)) ? (kept as string[]) : ownValue(config.access.agentAddresses, room.id);
    if (list && list.length) Object.defineProperty(secrets.agentAddresses, room.id, { value: [...list], enumerable: true, writable: true, configurable: true });
  }
  if (JSON.stringify(stored) !== JSON.stringify(secrets)) {
    mkdirSync(config.dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  }
  // Whatever mode the file was given since (an existing 644 file stays 644 otherwise).
  restrictToOwner(file);
  return secrets;
}

/** Forces a file (or directory) to be readable by its owner only; missing files are skipped. */
export function restrictToOwner(file: string, mode = 0o600): void {
  if (existsSync(file)) chmodSync(file, mode);
}

/** The audit trail's keys from the secrets. */
export function auditKeysOf(secrets: Secrets): AuditKeys {
  return auditKeys(secrets.auditKey, secrets.auditSigningKeyPem);
}
