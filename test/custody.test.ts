// Custody events are append-only: the database refuses UPDATE and DELETE, and
// when someone with the file gets round that (drops the triggers, even
// re-chains the table), verify() names the event.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { openDatabase, type Db } from '../server/db/database.js';
import { AuditTrail } from '../server/audit/audit-trail.js';
import { CustodyStore } from '../recordings/disc/custody.js';

let dir: string;
let db: Db;
let custody: CustodyStore;

function seed(): void {
  custody.imagesBuilt('b-1', [{ discNo: 1, discCount: 1, medium: 'dvd', path: '/x/b-1.iso', bytes: 2048, sha256: 'a'.repeat(64), manifestSha256: 'b'.repeat(64) }], 'staff:wang', {});
  custody.append({ bookingId: 'b-1', kind: 'burned', discNo: 1, copy: 'master', imageSha256: 'a'.repeat(64), actor: 'staff:wang', handedTo: null, detail: { drive: 'drive-1' } });
  custody.append({ bookingId: 'b-1', kind: 'sealed', discNo: 1, copy: 'master', imageSha256: 'a'.repeat(64), actor: 'staff:wang', handedTo: '见证人 刘某', detail: {} });
  custody.append({ bookingId: 'b-1', kind: 'handed_over', discNo: 1, copy: 'working', imageSha256: 'a'.repeat(64), actor: 'staff:wang', handedTo: '李检察官', detail: {} });
}

const dropTriggers = () => db.exec('DROP TRIGGER custody_events_no_update; DROP TRIGGER custody_events_no_delete;');

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'plea-custody-'));
  db = openDatabase(path.join(dir, 'db.sqlite'));
  custody = new CustodyStore(db, new AuditTrail(db));
  seed();
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('custody events', () => {
  it('are recorded with their audit entries, and an intact log verifies', () => {
    expect(custody.events('b-1').map((e) => e.kind)).toEqual(['image_built', 'burned', 'sealed', 'handed_over']);
    const audited = db.prepare("SELECT action FROM audit_entries WHERE action LIKE 'custody.%' ORDER BY seq").all() as Array<{ action: string }>;
    expect(audited.map((a) => a.action)).toEqual(['custody.image_built', 'custody.burned', 'custody.sealed', 'custody.handed_over']);
    expect(custody.verify()).toEqual([]);
  });

  it('cannot be updated or deleted through the database', () => {
    expect(() => db.prepare("UPDATE custody_events SET handed_to = '别人' WHERE kind = 'handed_over'").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM custody_events WHERE seq = 2').run()).toThrow(/append-only/);
  });

  it('an event edited behind the triggers is named', () => {
    dropTriggers();
    db.prepare("UPDATE custody_events SET handed_to = '别人' WHERE kind = 'handed_over'").run();
    expect(custody.verify().join('\n')).toMatch(/custody event 4: its content does not match its hash/);
  });

  it('an event deleted in the middle, or the last one, is named', () => {
    dropTriggers();
    db.prepare('DELETE FROM custody_events WHERE seq = 2').run();
    expect(custody.verify().join('\n')).toMatch(/custody event 2: recorded in the audit trail .* missing/);
    db.prepare('DELETE FROM custody_events WHERE seq = 4').run();
    // Deleting the last event leaves no hole in the chain: the audit trail still names it.
    expect(custody.verify().join('\n')).toMatch(/custody event 4: recorded in the audit trail .* missing/);
  });

  it('an edit with the whole chain recomputed is still found through the audit trail', () => {
    dropTriggers();
    db.prepare("UPDATE custody_events SET handed_to = '别人' WHERE kind = 'handed_over'").run();
    // Re-chain every event the way the store does, so the table alone looks intact.
    const rows = db.prepare('SELECT * FROM custody_events ORDER BY seq').all() as Array<Record<string, string | number | null>>;
    let prev = '0'.repeat(64);
    for (const r of rows) {
      const hash = createHash('sha256')
        .update([prev, r['seq'], r['booking_id'], r['kind'], r['disc_no'] ?? '', r['copy'] ?? '', r['image_sha256'] ?? '', r['actor'], r['handed_to'] ?? '', r['at'], r['detail']].join('\u001f'))
        .digest('hex');
      db.prepare('UPDATE custody_events SET prev_hash = ?, hash = ? WHERE seq = ?').run(prev, hash, r['seq']);
      prev = hash;
    }
    const problems = custody.verify();
    expect(problems.some((p) => p.includes('its content does not match'))).toBe(false); // the table is self-consistent...
    expect(problems.join('\n')).toMatch(/custody event 4: differs from what the audit trail recorded/); // ...the audit trail is not fooled
  });

  it('an event inserted afterwards, without an audit entry, is named', () => {
    const last = db.prepare('SELECT hash FROM custody_events ORDER BY seq DESC LIMIT 1').get() as { hash: string };
    db.prepare(
      "INSERT INTO custody_events (booking_id, kind, disc_no, copy, image_sha256, actor, handed_to, at, detail, prev_hash, hash) VALUES ('b-1', 'sealed', 1, 'working', NULL, 'staff:x', NULL, '2026-12-01T00:00:00.000Z', '{}', ?, ?)"
    ).run(last.hash, 'c'.repeat(64));
    expect(custody.verify().join('\n')).toMatch(/custody event 5: .*(not in the audit trail|does not match its hash)/);
  });
});
