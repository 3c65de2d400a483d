// TLS for the edge: configured certificate files, or for development a
// self-signed certificate generated once into the data directory (owner-only),
// for the host's names and addresses. Browsers need a secure context for
// cameras and microphones anywhere but localhost.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generate } from 'selfsigned';
import type { Config } from '../config.js';
import { restrictToOwner } from '../access/secrets.js';

export async function tlsFor(config: Config): Promise<{ key: string; cert: string } | null> {
  const tls = config.http.tls;
  if (tls.mode === 'off') return null;
  if (tls.mode === 'files') return { key: readFileSync(tls.keyFile, 'utf8'), cert: readFileSync(tls.certFile, 'utf8') };
  const dir = path.join(config.dataDir, 'tls');
  const keyFile = path.join(dir, 'self-signed.key');
  const certFile = path.join(dir, 'self-signed.crt');
  if (!existsSync(keyFile) || !existsSync(certFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const addresses = Object.values(os.networkInterfaces()).flatMap((l) => l ?? []).map((a) => a.address);
    const altNames = [
      { type: 2 as const, value: 'localhost' },
      { type: 2 as const, value: os.hostname() },
      ...addresses.filter((a) => !a.includes('%')).map((ip) => ({ type: 7 as const, ip })),
    ];
    const pems = await generate([{ name: 'commonName', value: os.hostname() }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames }],
    } as Parameters<typeof generate>[1]);
    writeFileSync(keyFile, pems.private, { mode: 0o600 });
    writeFileSync(certFile, pems.cert, { mode: 0o644 });
  }
  restrictToOwner(keyFile);
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') };
}
