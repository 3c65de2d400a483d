import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../server/db/database.js';
import { migrations } from '../server/db/migrations.js';
import { AuditTrail } from '../server/audit/audit-trail.js';
import { JoinTokens } from '../server/access/join-token.js';

const dirs: string[] = [];
function tempFile(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'plea-store-'));
  dirs.push(dir);
  return path.join(dir, 'plea.sqlite');
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('database', () => {
  it('applies migrations once, in order, and records them', () => {
    const file = tempFile();
    const db = openDatabase(file);
    const versions = (db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{ version: number }>).map((r) => r.version);
    expect(versions).toEqual(migrations.map((m) => m.version).sort((a, b) => a - b));
    db.close();
    const again = openDatabase(file);
    expect((again.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get() as { n: number }).n).toBe(migrations.length);
    again.close();
  });
});

describe('audit trail', () => {
  it('chains entries and detects tampering', () => {
    const db = openDatabase(tempFile());
    const audit = new AuditTrail(db);
    for (let i = 0; i < 5; i++) audit.append({ actor: 'staff:1', action: 'test.step', subject: `thing:${i}`, detail: { i } });
    expect(audit.verify()).toBeNull();
    // Updates are refused by a trigger; a writer of the file drops it first (test/audit-trail.test.ts goes further).
    expect(() => db.prepare("UPDATE audit_entries SET detail = '{}' WHERE seq = 3").run()).toThrow(/append-only/);
    db.exec('DROP TRIGGER audit_entries_no_update');
    db.prepare("UPDATE audit_entries SET detail = '{\"i\":99}' WHERE seq = 3").run();
    expect(audit.verify()).toBe(3);
    db.close();
  });
});

describe('join links', () => {
  const tokens = new JoinTokens('a-secret-that-is-long-enough');
  const claims = { roomId: 'plea-1', role: 'lawyer' as const, bookingId: 'b1', nbf: 1000, exp: 2000 };
  it('verifies within the window only', () => {
    const t = tokens.issue(claims);
    expect(tokens.verify(t, 1500)).toEqual({ ok: true, claims });
    expect(tokens.verify(t, 999)).toMatchObject({ ok: false, reason: 'join link not valid yet' });
    expect(tokens.verify(t, 2001)).toMatchObject({ ok: false, reason: 'join link expired' });
  });
  it('refuses altered or foreign links', () => {
    const t = tokens.issue(claims);
    const [body, sig] = t.split('.');
    const forged = Buffer.from(JSON.stringify({ ...claims, role: 'prosecutor' })).toString('base64url');
    expect(tokens.verify(`${forged}.${sig}`, 1500).ok).toBe(false);
    expect(new JoinTokens('another-secret-long-enough').verify(t, 1500).ok).toBe(false);
    expect(tokens.verify(`${body}`, 1500).ok).toBe(false);
    expect(tokens.verify('garbage.garbage', 1500).ok).toBe(false);
  });
});
