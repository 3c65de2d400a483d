import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../server/db/database.js';
import { AuditTrail } from '../server/audit/audit-trail.js';
import { CHAIN_GENESIS, RecordingError, RecordingStore, recordingDir, segmentChainHash, type SegmentInput } from '../recordings/recording-store.js';
import { GAP_CAUSES, isGapCause } from '../recordings/gap-cause.js';

const dirs: string[] = [];
const dbs: Db[] = [];
function setup(): { store: RecordingStore; audit: AuditTrail; db: Db; dataDir: string } {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'plea-recstore-'));
  dirs.push(dataDir);
  const db = openDatabase(path.join(dataDir, 'plea.sqlite'));
  dbs.push(db);
  const audit = new AuditTrail(db);
  return { store: new RecordingStore(db, audit), audit, db, dataDir };
}
afterEach(() => {
  for (const d of dbs.splice(0)) d.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const B = 'B20261201-001';
function writeSegment(dataDir: string, rel: string, content: string): Omit<SegmentInput, 'track' | 'source' | 'partyId' | 'startedAt' | 'endedAt' | 'container' | 'codec'> {
  const file = path.join(recordingDir(dataDir, B), rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
  return { bookingId: B, path: rel, bytes: Buffer.byteLength(content), sha256: createHash('sha256').update(content).digest('hex') };
}
const seg = (dataDir: string, rel: string, content: string, track = 'room.video', source: 'original' | 'evidence' = 'original'): SegmentInput => ({
  ...writeSegment(dataDir, rel, content), track, source, partyId: source === 'original' ? 'p1' : null,
  startedAt: '2026-12-01T09:00:00.000Z', endedAt: '2026-12-01T09:03:00.000Z', container: source === 'original' ? 'webm' : 'ts', codec: source === 'original' ? 'vp8' : 'h264+aac',
});

describe('recording store', () => {
  // Mutation caught: a chain that skips the previous hash (or seq computed per source) — the
  // recomputed heads differ; a flipped byte in a file not detected when files are re-hashed.
  it('chains segments across both sources, verifies, and names a tampered row or file', async () => {
    const { store, audit, db, dataDir } = setup();
    store.started({ bookingId: B, roomId: 'plea-1', at: '2026-12-01T09:00:00.000Z' });
    const a = store.addSegment(seg(dataDir, 'originals/room.video/0001.webm', 'aaaa'));
    const b = store.addSegment(seg(dataDir, 'evidence/0001.ts', 'bbbb', 'evidence', 'evidence'), 'agent:plea-1');
    const c = store.addSegment(seg(dataDir, 'originals/room.audio/0001.webm', 'cccc', 'room.audio'));
    expect([a.seq, b.seq, c.seq]).toEqual([1, 2, 3]);
    expect(a.chainHash).toBe(segmentChainHash(CHAIN_GENESIS, a.sha256, a.path, a.bytes));
    expect(c.chainHash).toBe(segmentChainHash(b.chainHash, c.sha256, c.path, c.bytes));
    // The documented shell recipe gives the same head.
    expect(createHash('sha256').update(`${b.chainHash}|${c.sha256}|${c.path}|${c.bytes}`).digest('hex')).toBe(c.chainHash);
    const dir = recordingDir(dataDir, B);
    expect(await store.verifyChain(B, dir)).toEqual({ ok: true, segments: 3, head: c.chainHash });

    // A flipped byte in the second file.
    const f = path.join(dir, 'evidence/0001.ts');
    const bytes = readFileSync(f);
    bytes[1] = (bytes[1] ?? 0) ^ 0x01;
    writeFileSync(f, bytes);
    expect(await store.verifyChain(B, dir)).toMatchObject({ ok: false, fault: { kind: 'file_hash_mismatch', seq: 2, path: 'evidence/0001.ts' } });
    expect(store.verifyRows(B).ok).toBe(true);

    // A row whose recorded hash was rewritten to match an edited file breaks the chain.
    db.prepare('UPDATE recording_segments SET sha256 = ? WHERE booking_id = ? AND seq = 2').run(createHash('sha256').update(bytes).digest('hex'), B);
    expect(store.verifyRows(B)).toMatchObject({ ok: false, fault: { kind: 'chain_broken', seq: 2 } });
    // A deleted row is a missing seq.
    db.prepare('DELETE FROM recording_segments WHERE booking_id = ? AND seq = 1').run(B);
    expect(store.verifyRows(B)).toMatchObject({ ok: false, fault: { kind: 'seq_missing', seq: 1 } });

    const actions = audit.recent(10).map((e) => e.action).reverse();
    expect(actions).toEqual(['recording.started', 'recording.segment', 'recording.segment', 'recording.segment']);
    expect(audit.verify()).toBeNull();
  });

  // Mutation caught: state ignoring gaps (always 'complete'), or party absence counted as an interruption.
  it('keeps gaps with typed causes and tells complete from with gaps', () => {
    const { store, audit, dataDir } = setup();
    store.started({ bookingId: B, roomId: 'plea-1', at: '2026-12-01T09:00:00.000Z' });
    expect(store.state(B)).toBe('recording');
    const absent = store.openGap({ bookingId: B, source: 'original', track: 'lawyer.audio', startedAt: '2026-12-01T09:01:00.000Z', cause: 'party_absent' });
    store.addSegment(seg(dataDir, 'originals/room.video/0001.webm', 'x'));
    const fin = store.finished(B, { at: '2026-12-01T09:10:00.000Z' });
    expect(fin).toMatchObject({ status: 'finished', endedAt: '2026-12-01T09:10:00.000Z' });
    expect(store.gaps(B)).toEqual([{ ...absent, endedAt: '2026-12-01T09:10:00.000Z' }]);
    expect(store.state(B)).toBe('complete');

    // Resumed (a reopened session), interrupted by a worker death, finished again.
    store.started({ bookingId: B, roomId: 'plea-1', at: '2026-12-01T09:11:00.000Z' });
    expect(store.state(B)).toBe('recording');
    const g = store.openGap({ bookingId: B, source: 'original', track: null, startedAt: '2026-12-01T09:12:00.000Z', cause: 'worker_died' });
    expect(store.openGaps(B)).toHaveLength(1);
    store.closeGap(g.id, '2026-12-01T09:12:04.000Z');
    expect(store.closeGap(g.id, '2026-12-01T09:15:00.000Z').endedAt).toBe('2026-12-01T09:12:04.000Z');
    store.finished(B, { at: '2026-12-01T09:20:00.000Z' });
    expect(store.state(B)).toBe('with_gaps');
    const [summary] = store.list();
    expect(summary).toMatchObject({ bookingId: B, state: 'with_gaps', segments: 1, bytes: 1, gaps: 2, interruptions: 1 });
    expect(audit.recent(100).filter((e) => e.action.startsWith('recording.gap')).map((e) => e.action).sort()).toEqual([
      'recording.gap.closed', 'recording.gap.closed', 'recording.gap.opened', 'recording.gap.opened',
    ]);
  });

  // Mutation caught: a missing path check lets a segment escape the booking's directory.
  it('refuses bad input clearly and writes nothing', () => {
    const { store, audit, dataDir } = setup();
    expect(() => store.started({ bookingId: '../etc', roomId: 'plea-1' })).toThrow(RecordingError);
    store.started({ bookingId: B, roomId: 'plea-1' });
    const before = audit.recent(100).length;
    const good = seg(dataDir, 'originals/room.video/0001.webm', 'x');
    for (const bad of [
      { ...good, path: 'originals/../../x.webm' },
      { ...good, path: '/abs/x.webm' },
      { ...good, path: 'evidence/x.webm' },
      { ...good, sha256: 'XYZ' },
      { ...good, bytes: -1 },
      { ...good, track: 'Room Video' },
      { ...good, startedAt: 'yesterday' },
      { ...good, bookingId: 'B-unknown' },
    ]) {
      expect(() => store.addSegment(bad)).toThrow(RecordingError);
    }
    store.addSegment(good);
    expect(() => store.addSegment(good)).toThrow(/already in the chain/);
    expect(() => store.openGap({ bookingId: B, source: 'original', track: null, startedAt: '2026-12-01T09:00:00.000Z', cause: 'cosmic_rays' as never })).toThrow(RecordingError);
    expect(audit.recent(100).length).toBe(before + 1);
    expect(GAP_CAUSES.every(isGapCause)).toBe(true);
    expect(isGapCause('recorder crashed')).toBe(false);
  });
});
