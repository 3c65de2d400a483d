// The keyed audit chain against someone who can write the SQLite file but has
// not got the key: edits, deletions, reordering, re-chaining and a cut tail are
// all found, and the first bad entry is named.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../server/db/database.js';
import { AuditTrail, AuditUnavailableError } from '../server/audit/audit-trail.js';
import { auditKeys, type AuditKeys } from '../server/audit/audit-chain.js';
import { generateEvidenceKeyPem } from '../recordings/disc/evidence-key.js';

const dirs: string[] = [];
const open: Db[] = [];
afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function newKeys(): AuditKeys {
  return auditKeys(randomBytes(32).toString('base64url'), generateEvidenceKeyPem());
}

function setup(entries = 40): { file: string; db: Db; trail: AuditTrail; keys: AuditKeys; headFile: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'plea-audit-'));
  dirs.push(dir);
  const file = path.join(dir, 'plea.sqlite');
  const db = openDatabase(file);
  open.push(db);
  const keys = newKeys();
  const headFile = path.join(dir, 'audit-heads.jsonl');
  const trail = new AuditTrail(db, { keys, headFile });
  for (let i = 1; i <= entries; i++) trail.record({ actor: `user:u${i % 3}`, action: 'party.joined', subject: `session:s${i}`, detail: { n: i } });
  return { file, db, trail, keys, headFile };
}

/** What an attacker with the file does: a separate connection, triggers dropped first. */
function tamper(file: string, sql: string, ...params: unknown[]): void {
  const raw = new Database(file);
  raw.exec('DROP TRIGGER IF EXISTS audit_entries_no_update; DROP TRIGGER IF EXISTS audit_entries_no_delete;');
  raw.prepare(sql).run(...params);
  raw.close();
}

describe('keyed audit chain', () => {
  it('an untouched trail verifies', () => {
    const { trail } = setup();
    const r = trail.verifyNow(true);
    expect(r).toMatchObject({ intact: true, brokenAt: null, checked: 40, lastSeq: 40 });
  });

  it('the trail refuses direct updates and deletes through the normal connection', () => {
    const { db } = setup(3);
    expect(() => db.prepare('UPDATE audit_entries SET actor = ? WHERE seq = 2').run('x')).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM audit_entries WHERE seq = 3').run()).toThrow(/append-only/);
  });

  it('editing one entry in the file is found at that entry', () => {
    const { file, trail } = setup();
    tamper(file, `UPDATE audit_entries SET detail = '{"n":999}' WHERE seq = 17`);
    const r = trail.verifyNow(true);
    expect(r.intact).toBe(false);
    expect(r.brokenAt).toBe(17);
    expect(r.problem?.why).toMatch(/entry 17 .*not what was written/);
  });

  it('deleting an entry in the middle is found at the missing entry', () => {
    const { file, trail } = setup();
    tamper(file, 'DELETE FROM audit_entries WHERE seq = 17');
    expect(trail.verifyNow(true)).toMatchObject({ intact: false, brokenAt: 17 });
  });

  it('deleting an entry and renumbering the rest is found', () => {
    const { file, trail } = setup();
    tamper(file, 'DELETE FROM audit_entries WHERE seq = 17');
    tamper(file, 'UPDATE audit_entries SET seq = seq - 1 WHERE seq > 17');
    expect(trail.verifyNow(true)).toMatchObject({ intact: false, brokenAt: 17 });
  });

  it('reordering two entries is found at the first of them', () => {
    const { file, trail } = setup();
    const raw = new Database(file);
    const a = raw.prepare('SELECT * FROM audit_entries WHERE seq = 10').get() as Record<string, unknown>;
    const b = raw.prepare('SELECT * FROM audit_entries WHERE seq = 11').get() as Record<string, unknown>;
    raw.close();
    const swap = 'UPDATE audit_entries SET at = ?, actor = ?, action = ?, subject = ?, detail = ?, prev_hash = ?, hash = ? WHERE seq = ?';
    tamper(file, swap, b['at'], b['actor'], b['action'], b['subject'], b['detail'], b['prev_hash'], b['hash'], 10);
    tamper(file, swap, a['at'], a['actor'], a['action'], a['subject'], a['detail'], a['prev_hash'], a['hash'], 11);
    expect(trail.verifyNow(true)).toMatchObject({ intact: false, brokenAt: 10 });
  });

  it('re-chaining after an edit without the key (plain SHA-256, or a key of ones own) is found at the edit', () => {
    for (const rechain of ['sha256', 'own-key'] as const) {
      const { file, trail } = setup(30);
      const raw = new Database(file);
      raw.exec('DROP TRIGGER IF EXISTS audit_entries_no_update;');
      const rows = raw.prepare('SELECT * FROM audit_entries WHERE seq >= 12 ORDER BY seq').all() as Array<Record<string, string | number>>;
      let prev = (raw.prepare('SELECT hash FROM audit_entries WHERE seq = 11').get() as { hash: string }).hash;
      const attackerKey = randomBytes(32);
      for (const r of rows) {
        const detail = r['seq'] === 12 ? '{"n":"rewritten"}' : String(r['detail']);
        const text = JSON.stringify(['hmac-sha256-v1', r['seq'], r['at'], r['actor'], r['action'], r['subject'], detail, prev]);
        const hash = rechain === 'sha256' ? createHash('sha256').update(text).digest('hex') : createHmac('sha256', attackerKey).update(text).digest('hex');
        raw.prepare('UPDATE audit_entries SET detail = ?, prev_hash = ?, hash = ? WHERE seq = ?').run(detail, prev, hash, r['seq']);
        prev = hash;
      }
      raw.close();
      expect(trail.verifyNow(true), rechain).toMatchObject({ intact: false, brokenAt: 12 });
    }
  });

  it('a truncated tail is found against the last exported head, and only thanks to it', () => {
    const { file, trail, db } = setup();
    trail.exportHead();
    tamper(file, 'DELETE FROM audit_entries WHERE seq > 35');
    const r = trail.verifyNow(true);
    expect(r).toMatchObject({ intact: false, brokenAt: 36 });
    expect(r.problem?.kind).toBe('truncated');
    expect(r.problem?.why).toMatch(/ends at entry 35 .* reached entry 40/);
    // Without an exported head the shortened chain is self-consistent: the head is what tells.
    const noHead = new AuditTrail(db, { keys: (trail as unknown as { keys: AuditKeys }).keys });
    expect(noHead.verifyNow(true).intact).toBe(true);
  });

  it('a forged head line (no valid signature) is ignored and reported', () => {
    const { file, trail, headFile } = setup();
    trail.exportHead();
    tamper(file, 'DELETE FROM audit_entries WHERE seq > 35');
    // The attacker appends a head of their own that matches the cut trail.
    const fake = { seq: 35, mac: 'f'.repeat(64), at: new Date().toISOString(), keyId: 'x', signature: Buffer.alloc(64).toString('base64') };
    appendFileSync(headFile, `${JSON.stringify(fake)}\n`);
    const r = trail.verifyNow(true);
    expect(r).toMatchObject({ intact: false, brokenAt: 36 });
    expect(r.warning).toMatch(/no valid signature/);
  });

  it('verifies incrementally from the last checkpoint and still finds a later edit; a forged checkpoint is ignored', () => {
    const { file, trail } = setup();
    expect(trail.verifyNow()).toMatchObject({ intact: true, from: 0, checked: 40 });
    for (let i = 0; i < 10; i++) trail.record({ actor: 'system', action: 'test.more', subject: `n:${i}` });
    tamper(file, `UPDATE audit_entries SET actor = 'someone else' WHERE seq = 45`);
    // The attacker also plants a checkpoint past the edit: without the key its tag is wrong.
    tamper(file, 'INSERT INTO audit_checkpoints (seq, mac, verified_at, tag) VALUES (50, (SELECT hash FROM audit_entries WHERE seq = 50), ?, ?)', new Date().toISOString(), 'a'.repeat(64));
    expect(trail.verifyNow()).toMatchObject({ intact: false, brokenAt: 45, from: 40, checked: 4 });
  });

  it('an incremental run checks only what is new; --full goes back over verified entries', () => {
    const { file, trail } = setup();
    expect(trail.verifyNow().intact).toBe(true);
    for (let i = 0; i < 10; i++) trail.record({ actor: 'system', action: 'test.more', subject: `n:${i}` });
    expect(trail.verifyNow()).toMatchObject({ intact: true, from: 40, checked: 10, lastSeq: 50 });
    tamper(file, `UPDATE audit_entries SET actor = 'someone else' WHERE seq = 5`);
    expect(trail.verifyNow(true)).toMatchObject({ intact: false, brokenAt: 5, from: 0 });
  });

  it('a trail sealed under another key takes no entries: the action is refused', () => {
    const { db } = setup(5);
    const other = new AuditTrail(db, { keys: newKeys() });
    expect(() => other.record({ actor: 'x', action: 'y', subject: 'z' })).toThrow(AuditUnavailableError);
  });

  it('a failing write is an AuditUnavailableError and the caller’s change rolls back with it', () => {
    const { db, trail } = setup(2);
    db.exec(`CREATE TRIGGER audit_full BEFORE INSERT ON audit_entries BEGIN SELECT RAISE(ABORT, 'disk full'); END;`);
    db.exec('CREATE TABLE things (x INTEGER)');
    expect(() => db.transaction(() => {
      db.prepare('INSERT INTO things VALUES (1)').run();
      trail.append({ actor: 'a', action: 'b', subject: 'c' });
    })()).toThrow(/cannot be written: disk full/);
    expect((db.prepare('SELECT COUNT(*) AS n FROM things').get() as { n: number }).n).toBe(0);
  });

  it('the chunked verify yields to the event loop between chunks', async () => {
    const { trail } = setup(3000);
    let ranMeanwhile = 0;
    const timer = setInterval(() => ranMeanwhile++, 0);
    const r = await trail.verifyAsync({ full: true, chunk: 100 });
    clearInterval(timer);
    expect(r.intact).toBe(true);
    expect(r.checked).toBe(3000);
    expect(ranMeanwhile).toBeGreaterThan(0);
  });

  it('a trail from before keyed MACs is re-sealed once, noting whether its old chain held', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'plea-audit-'));
    dirs.push(dir);
    const db = openDatabase(path.join(dir, 'plea.sqlite'));
    open.push(db);
    let prev = '0'.repeat(64);
    for (let i = 1; i <= 5; i++) {
      const at = new Date().toISOString();
      const hash = createHash('sha256').update([prev, at, 'system', 'old.entry', `n:${i}`, '{}'].join('\u001f')).digest('hex');
      db.prepare('INSERT INTO audit_entries (at, actor, action, subject, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)').run(at, 'system', 'old.entry', `n:${i}`, '{}', prev, hash);
      prev = hash;
    }
    const trail = new AuditTrail(db, { keys: newKeys() });
    const sealed = trail.recent(1)[0];
    expect(sealed).toMatchObject({ action: 'audit.sealed', detail: { entries: 5, legacyChainBrokenAt: null } });
    expect(trail.verifyNow(true)).toMatchObject({ intact: true, checked: 6 });
  });
});
