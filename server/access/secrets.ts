// Secrets kept in the data directory when the config gives none: the join-link
// signing secret and one credential per room agent. Created once, mode 0600.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import { generateEvidenceKeyPem } from '../../recordings/disc/evidence-key.js';
import { ownValue } from '../validation.js';

export interface Secrets {
  joinSecret: string;
  agentCredentials: Record<string, string>;
  /** Staff id → key (schedule API, boards). */
  staffKeys: Record<string, string>;
  /** The site's evidence key (Ed25519, PKCS#8 PEM): signs disc manifests. Never rotated by itself. */
  evidenceKeyPem: string;
  /** Signs session cookies and derives their CSRF tokens. */
  cookieSecret: string;
}

export function loadSecrets(config: Config): Secrets {
  const file = path.join(config.dataDir, 'secrets.json');
  let stored: Partial<Secrets> = {};
  if (existsSync(file)) stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<Secrets>;
  const secrets: Secrets = {
    joinSecret: config.access.joinSecret || stored.joinSecret || randomBytes(32).toString('base64url'),
    agentCredentials: {},
    cookieSecret: stored.cookieSecret && stored.cookieSecret.length >= 32 ? stored.cookieSecret : randomBytes(32).toString('base64url'),
    staffKeys: Object.keys(config.access.staffKeys).length
      ? { ...config.access.staffKeys }
      : stored.staffKeys && Object.keys(stored.staffKeys).length
        ? stored.staffKeys
        : { staff: randomBytes(18).toString('base64url') },
    evidenceKeyPem: stored.evidenceKeyPem || generateEvidenceKeyPem(),
  };
  for (const room of config.site.rooms) {
    const credential = ownValue(config.access.agentCredentials, room.id) ?? ownValue(stored.agentCredentials, room.id);
    Object.defineProperty(secrets.agentCredentials, room.id, {
      value: typeof credential === 'string' && credential.length >= 16 ? credential : randomBytes(24).toString('base64url'),
      enumerable: true, writable: true, configurable: true,
    });
  }
  if (JSON.stringify(stored) !== JSON.stringify(secrets)) {
    mkdirSync(config.dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  }
  return secrets;
}
