// Persistence of recordings: one recording per booking, its closed and hashed
// segments (server originals and the room agent's evidence video) in one hash
// chain, and its gaps with typed causes. Every write lands with its audit entry
// in the same transaction.
//
// The chain: for segment n of a booking (seq 1..),
//   chain_hash(n) = sha256_hex( chain_hash(n-1) "|" sha256 "|" path "|" bytes )
// over the UTF-8 text, with chain_hash(0) = 64 zeros, `sha256` the lowercase hex
// digest of the file, `path` relative to <dataDir>/recordings/<bookingId>/ with
// "/" separators and `bytes` in decimal. A court can recompute it with
// `printf '%s|%s|%s|%s' "$prev" "$sha" "$path" "$bytes" | sha256sum`.
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import type { Db } from '../server/db/database.js';
import type { AuditTrail } from '../server/audit/audit-trail.js';
import { isGapCause, isInterruption, type GapCause } from './gap-cause.js';

export type RecordingStatus = 'recording' | 'finished';
export type SegmentSource = 'original' | 'evidence';
/** What the clerk page shows for a booking's recording. */
export type RecordingState = 'recording' | 'complete' | 'with_gaps';

export const CHAIN_GENESIS = '0'.repeat(64);

const BOOKING_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const TRACK = /^[a-z][a-z0-9-]{0,31}(\.(audio|video))?$/;
const PATH_PART = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const CONTAINER = /^[a-z0-9]{1,8}$/;

export interface Recording {
  bookingId: string;
  roomId: string;
  status: RecordingStatus;
  startedAt: string;
  endedAt: string | null;
  /** The session clock the evidence video burns in (ISO, UTC). */
  sessionClockOrigin: string;
}

export interface SegmentInput {
  bookingId: string;
  source: SegmentSource;
  /** `room.video`, `prosecutor.audio`, `guest-2.audio`, ... for originals; `evidence` for the evidence video. */
  track: string;
  partyId: string | null;
  /** Relative to <dataDir>/recordings/<bookingId>/, beginning with `originals/` or `evidence/`. */
  path: string;
  startedAt: string;
  endedAt: string;
  bytes: number;
  sha256: string;
  container: string;
  codec: string;
}

export interface Segment extends SegmentInput {
  seq: number;
  chainHash: string;
}

export interface GapInput {
  bookingId: string;
  source: SegmentSource;
  /** null: every track of the source. */
  track: string | null;
  startedAt: string;
  cause: GapCause;
  /** Set when the gap is recorded after the fact, already closed. */
  endedAt?: string | null;
}

export interface Gap {
  id: number;
  bookingId: string;
  source: SegmentSource;
  track: string | null;
  startedAt: string;
  endedAt: string | null;
  cause: GapCause;
}

export interface RecordingSummary extends Recording {
  state: RecordingState;
  segments: number;
  bytes: number;
  /** Gaps that are interruptions of the recording (not a party simply being absent). */
  interruptions: number;
  gaps: number;
}

export type ChainFault =
  | { kind: 'chain_broken'; seq: number; path: string }
  | { kind: 'seq_missing'; seq: number }
  | { kind: 'file_missing'; seq: number; path: string }
  | { kind: 'file_size_mismatch'; seq: number; path: string; expected: number; actual: number }
  | { kind: 'file_hash_mismatch'; seq: number; path: string; expected: string; actual: string };

export type ChainVerdict = { ok: true; segments: number; head: string } | { ok: false; fault: ChainFault };

export class RecordingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordingError';
  }
}

export function segmentChainHash(prev: string, sha256: string, relPath: string, bytes: number): string {
  return createHash('sha256').update(`${prev}|${sha256}|${relPath}|${bytes}`, 'utf8').digest('hex');
}

/** <dataDir>/recordings/<bookingId>: every file of one booking's recording lives below it. */
export function recordingDir(dataDir: string, bookingId: string): string {
  assertBookingId(bookingId);
  return path.join(dataDir, 'recordings', bookingId);
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

function assertBookingId(id: string): void {
  if (!BOOKING_ID.test(id)) throw new RecordingError(`invalid booking id for a recording: ${JSON.stringify(id)}`);
}

function assertIso(field: string, v: string): void {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/.test(v) || Number.isNaN(Date.parse(v))) {
    throw new RecordingError(`${field} must be an ISO UTC time, got ${JSON.stringify(v)}`);
  }
}

function assertSegmentPath(source: SegmentSource, rel: string): void {
  const parts = rel.split('/');
  const top = source === 'original' ? 'originals' : 'evidence';
  if (parts.length < 2 || parts[0] !== top || !parts.slice(1).every((p) => PATH_PART.test(p) && p !== '.' && p !== '..' && !p.includes('..'))) {
    throw new RecordingError(`segment path must be a plain relative path under ${top}/, got ${JSON.stringify(rel)}`);
  }
}

interface RecordingRow {
  booking_id: string; room_id: string; status: RecordingStatus; started_at: string; ended_at: string | null; session_clock_origin: string;
}
interface SegmentRow {
  booking_id: string; seq: number; source: SegmentSource; track: string; party_id: string | null; path: string;
  started_at: string; ended_at: string; bytes: number; sha256: string; chain_hash: string; container: string; codec: string;
}
interface GapRow {
  id: number; booking_id: string; source: SegmentSource; track: string | null; started_at: string; ended_at: string | null; cause: string;
}

const recordingOf = (r: RecordingRow): Recording => ({
  bookingId: r.booking_id, roomId: r.room_id, status: r.status, startedAt: r.started_at, endedAt: r.ended_at, sessionClockOrigin: r.session_clock_origin,
});
const segmentOf = (r: SegmentRow): Segment => ({
  bookingId: r.booking_id, seq: r.seq, source: r.source, track: r.track, partyId: r.party_id, path: r.path, startedAt: r.started_at,
  endedAt: r.ended_at, bytes: r.bytes, sha256: r.sha256, chainHash: r.chain_hash, container: r.container, codec: r.codec,
});
function gapOf(r: GapRow): Gap {
  if (!isGapCause(r.cause)) throw new RecordingError(`stored gap ${r.id} has an unknown cause ${JSON.stringify(r.cause)}`);
  return { id: r.id, bookingId: r.booking_id, source: r.source, track: r.track, startedAt: r.started_at, endedAt: r.ended_at, cause: r.cause };
}

export class RecordingStore {
  constructor(private readonly db: Db, private readonly audit: AuditTrail) {}

  /**
   * The booking's recording begins, or continues (after a worker death, a server
   * restart or a finished recording resumed by a reopened session). Returns the
   * recording as stored.
   */
  started(input: { bookingId: string; roomId: string; at?: string; sessionClockOrigin?: string; actor?: string }): Recording {
    assertBookingId(input.bookingId);
    const at = input.at ?? new Date().toISOString();
    assertIso('startedAt', at);
    if (input.sessionClockOrigin !== undefined) assertIso('sessionClockOrigin', input.sessionClockOrigin);
    const actor = input.actor ?? 'recorder';
    return this.db.transaction((): Recording => {
      const existing = this.row(input.bookingId);
      if (!existing) {
        this.db
          .prepare("INSERT INTO recordings (booking_id, room_id, status, started_at, ended_at, session_clock_origin) VALUES (?, ?, 'recording', ?, NULL, ?)")
          .run(input.bookingId, input.roomId, at, input.sessionClockOrigin ?? at);
        this.audit.append({ actor, action: 'recording.started', subject: `booking:${input.bookingId}`, detail: { roomId: input.roomId, at } });
      } else if (existing.status === 'finished') {
        this.db.prepare("UPDATE recordings SET status = 'recording', ended_at = NULL WHERE booking_id = ?").run(input.bookingId);
        this.audit.append({ actor, action: 'recording.started', subject: `booking:${input.bookingId}`, detail: { roomId: input.roomId, at, resumed: true, previouslyEndedAt: existing.ended_at } });
      }
      return recordingOf(this.row(input.bookingId) as RecordingRow);
    })();
  }

  /** Adds one closed, hashed file to the booking's chain; seq and chain hash are computed here. */
  addSegment(input: SegmentInput, actor = 'recorder'): Segment {
    assertBookingId(input.bookingId);
    if (input.source !== 'original' && input.source !== 'evidence') throw new RecordingError(`unknown segment source ${JSON.stringify(input.source)}`);
    if (input.source === 'evidence' ? input.track !== 'evidence' : !TRACK.test(input.track)) throw new RecordingError(`invalid track ${JSON.stringify(input.track)} for ${input.source}`);
    assertSegmentPath(input.source, input.path);
    assertIso('startedAt', input.startedAt);
    assertIso('endedAt', input.endedAt);
    if (Date.parse(input.endedAt) < Date.parse(input.startedAt)) throw new RecordingError('segment ends before it starts');
    if (!Number.isSafeInteger(input.bytes) || input.bytes < 0) throw new RecordingError('segment bytes must be a non-negative integer');
    if (!SHA256.test(input.sha256)) throw new RecordingError('segment sha256 must be 64 lowercase hex digits');
    if (!CONTAINER.test(input.container)) throw new RecordingError(`invalid container ${JSON.stringify(input.container)}`);
    if (typeof input.codec !== 'string' || input.codec.length < 1 || input.codec.length > 64) throw new RecordingError('invalid codec');
    return this.db.transaction((): Segment => {
      if (!this.row(input.bookingId)) throw new RecordingError(`no recording for booking ${input.bookingId}`);
      const dup = this.db.prepare('SELECT seq FROM recording_segments WHERE booking_id = ? AND path = ?').get(input.bookingId, input.path) as { seq: number } | undefined;
      if (dup) throw new RecordingError(`segment ${input.path} is already in the chain as #${dup.seq}`);
      const last = this.db.prepare('SELECT seq, chain_hash FROM recording_segments WHERE booking_id = ? ORDER BY seq DESC LIMIT 1').get(input.bookingId) as
        | { seq: number; chain_hash: string }
        | undefined;
      const seq = (last?.seq ?? 0) + 1;
      const chainHash = segmentChainHash(last?.chain_hash ?? CHAIN_GENESIS, input.sha256, input.path, input.bytes);
      this.db
        .prepare(
          `INSERT INTO recording_segments (booking_id, seq, source, track, party_id, path, started_at, ended_at, bytes, sha256, chain_hash, container, codec)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
        )
        .run(input.bookingId, seq, input.source, input.track, input.partyId, input.path, input.startedAt, input.endedAt, input.bytes, input.sha256, chainHash, input.container, input.codec);
      this.audit.append({
        actor, action: 'recording.segment', subject: `booking:${input.bookingId}`,
        detail: { seq, source: input.source, track: input.track, path: input.path, bytes: input.bytes, sha256: input.sha256, chainHash },
      });
      return { ...input, seq, chainHash };
    })();
  }

  /** Opens a gap; returns it (with its id, to close it later). */
  openGap(input: GapInput, actor = 'recorder'): Gap {
    assertBookingId(input.bookingId);
    if (!isGapCause(input.cause)) throw new RecordingError(`unknown gap cause ${JSON.stringify(input.cause)}`);
    if (input.source !== 'original' && input.source !== 'evidence') throw new RecordingError(`unknown gap source ${JSON.stringify(input.source)}`);
    if (input.track !== null && !(input.track === 'evidence' || TRACK.test(input.track))) throw new RecordingError(`invalid track ${JSON.stringify(input.track)}`);
    assertIso('startedAt', input.startedAt);
    const endedAt = input.endedAt ?? null;
    if (endedAt !== null) {
      assertIso('endedAt', endedAt);
      if (Date.parse(endedAt) < Date.parse(input.startedAt)) throw new RecordingError('gap ends before it starts');
    }
    return this.db.transaction((): Gap => {
      if (!this.row(input.bookingId)) throw new RecordingError(`no recording for booking ${input.bookingId}`);
      const res = this.db
        .prepare('INSERT INTO recording_gaps (booking_id, source, track, started_at, ended_at, cause) VALUES (?, ?, ?, ?, ?, ?)')
        .run(input.bookingId, input.source, input.track, input.startedAt, endedAt, input.cause);
      const id = Number(res.lastInsertRowid);
      this.audit.append({
        actor, action: 'recording.gap.opened', subject: `booking:${input.bookingId}`,
        detail: { gapId: id, source: input.source, track: input.track, startedAt: input.startedAt, cause: input.cause, ...(endedAt ? { endedAt } : {}) },
      });
      if (endedAt !== null) {
        this.audit.append({ actor, action: 'recording.gap.closed', subject: `booking:${input.bookingId}`, detail: { gapId: id, endedAt } });
      }
      return { id, bookingId: input.bookingId, source: input.source, track: input.track, startedAt: input.startedAt, endedAt, cause: input.cause };
    })();
  }

  /** Closes an open gap; closing a closed gap changes nothing and returns it as stored. */
  closeGap(id: number, endedAt: string = new Date().toISOString(), actor = 'recorder'): Gap {
    assertIso('endedAt', endedAt);
    return this.db.transaction((): Gap => {
      const row = this.db.prepare('SELECT * FROM recording_gaps WHERE id = ?').get(id) as GapRow | undefined;
      if (!row) throw new RecordingError(`no gap ${id}`);
      if (row.ended_at !== null) return gapOf(row);
      const end = Date.parse(endedAt) < Date.parse(row.started_at) ? row.started_at : endedAt;
      this.db.prepare('UPDATE recording_gaps SET ended_at = ? WHERE id = ?').run(end, id);
      this.audit.append({ actor, action: 'recording.gap.closed', subject: `booking:${row.booking_id}`, detail: { gapId: id, endedAt: end } });
      return gapOf({ ...row, ended_at: end });
    })();
  }

  /** Gaps still open for a booking (optionally of one source). */
  openGaps(bookingId: string, source?: SegmentSource): Gap[] {
    return this.gaps(bookingId).filter((g) => g.endedAt === null && (source === undefined || g.source === source));
  }

  /** The recording ends (the booking finished, or the recording was stopped cleanly); open gaps close at its end. */
  finished(bookingId: string, input: { at?: string; actor?: string; reason?: string } = {}): Recording {
    assertBookingId(bookingId);
    const at = input.at ?? new Date().toISOString();
    assertIso('endedAt', at);
    const actor = input.actor ?? 'recorder';
    return this.db.transaction((): Recording => {
      const row = this.row(bookingId);
      if (!row) throw new RecordingError(`no recording for booking ${bookingId}`);
      if (row.status === 'finished') return recordingOf(row);
      for (const g of this.openGaps(bookingId)) this.closeGap(g.id, at, actor);
      this.db.prepare("UPDATE recordings SET status = 'finished', ended_at = ? WHERE booking_id = ?").run(at, bookingId);
      this.audit.append({ actor, action: 'recording.finished', subject: `booking:${bookingId}`, detail: { endedAt: at, ...(input.reason ? { reason: input.reason } : {}) } });
      return recordingOf(this.row(bookingId) as RecordingRow);
    })();
  }

  recording(bookingId: string): Recording | null {
    const row = this.row(bookingId);
    return row ? recordingOf(row) : null;
  }

  segments(bookingId: string, source?: SegmentSource): Segment[] {
    const rows = this.db.prepare('SELECT * FROM recording_segments WHERE booking_id = ? ORDER BY seq').all(bookingId) as SegmentRow[];
    return rows.map(segmentOf).filter((s) => source === undefined || s.source === source);
  }

  gaps(bookingId: string): Gap[] {
    const rows = this.db.prepare('SELECT * FROM recording_gaps WHERE booking_id = ? ORDER BY started_at, id').all(bookingId) as GapRow[];
    return rows.map(gapOf);
  }

  /** complete / with gaps / recording, for the clerk page. */
  state(bookingId: string): RecordingState | null {
    const row = this.row(bookingId);
    if (!row) return null;
    return this.stateOf(row, this.gaps(bookingId));
  }

  /** Recordings, newest first, with their state and totals. */
  list(filter: { status?: RecordingStatus; limit?: number } = {}): RecordingSummary[] {
    const limit = Math.min(Math.max(filter.limit ?? 500, 1), 5000);
    const rows = (
      filter.status
        ? this.db.prepare('SELECT * FROM recordings WHERE status = ? ORDER BY started_at DESC LIMIT ?').all(filter.status, limit)
        : this.db.prepare('SELECT * FROM recordings ORDER BY started_at DESC LIMIT ?').all(limit)
    ) as RecordingRow[];
    const totals = this.db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM recording_segments WHERE booking_id = ?');
    return rows.map((r) => {
      const gaps = this.gaps(r.booking_id);
      const t = totals.get(r.booking_id) as { n: number; b: number };
      return {
        ...recordingOf(r), state: this.stateOf(r, gaps), segments: t.n, bytes: t.b,
        interruptions: gaps.filter((g) => isInterruption(g.cause)).length, gaps: gaps.length,
      };
    });
  }

  /**
   * Re-computes the booking's hash chain from the stored rows; with `dir` (the
   * booking's recording directory, see recordingDir) also re-hashes every file.
   * Returns the first fault found, in chain order.
   */
  async verifyChain(bookingId: string, dir?: string): Promise<ChainVerdict> {
    const chain = this.verifyRows(bookingId);
    if (!chain.ok || dir === undefined) return chain;
    for (const s of this.segments(bookingId)) {
      const file = path.join(dir, ...s.path.split('/'));
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        return { ok: false, fault: { kind: 'file_missing', seq: s.seq, path: s.path } };
      }
      if (size !== s.bytes) return { ok: false, fault: { kind: 'file_size_mismatch', seq: s.seq, path: s.path, expected: s.bytes, actual: size } };
      const actual = await sha256File(file);
      if (actual !== s.sha256) return { ok: false, fault: { kind: 'file_hash_mismatch', seq: s.seq, path: s.path, expected: s.sha256, actual } };
    }
    return chain;
  }

  /** The chain check on the rows alone (synchronous). */
  verifyRows(bookingId: string): ChainVerdict {
    let prev = CHAIN_GENESIS;
    let expectedSeq = 1;
    for (const s of this.segments(bookingId)) {
      if (s.seq !== expectedSeq) return { ok: false, fault: { kind: 'seq_missing', seq: expectedSeq } };
      if (segmentChainHash(prev, s.sha256, s.path, s.bytes) !== s.chainHash) return { ok: false, fault: { kind: 'chain_broken', seq: s.seq, path: s.path } };
      prev = s.chainHash;
      expectedSeq++;
    }
    return { ok: true, segments: expectedSeq - 1, head: prev };
  }

  private stateOf(r: RecordingRow, gaps: Gap[]): RecordingState {
    if (r.status === 'recording') return 'recording';
    return gaps.some((g) => isInterruption(g.cause)) ? 'with_gaps' : 'complete';
  }

  private row(bookingId: string): RecordingRow | undefined {
    return this.db.prepare('SELECT * FROM recordings WHERE booking_id = ?').get(bookingId) as RecordingRow | undefined;
  }
}
