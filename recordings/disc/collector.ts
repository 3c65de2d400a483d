// Gathers one booking's evidence into an EvidenceBundle: the recording and its
// segments and gaps (recording store), the booking and its live-status history
// (schedule store), the parties with their join and leave times (session
// store's tables). The evidence video's segments are joined into one MP4 with
// `ffmpeg -c copy` (no transcode), once: the joined file is stored beside a
// note of the segments it was made from and reused while they are the same.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Db } from '../../server/db/database.js';
import type { Config } from '../../server/config.js';
import { DomainError } from '../../server/errors.js';
import type { ScheduleStore } from '../../server/schedule/schedule-store.js';
import { formatMinute } from '../../server/schedule/windows.js';
import { GAP_CAUSE_TEXT } from '../gap-cause.js';
import { recordingDir, sha256File, type Gap, type RecordingStore, type Segment } from '../recording-store.js';
import type { BundleFile, BundleGap, BundleParty, BundleSource, EvidenceBundle } from './bundle.js';

export interface CollectorDeps {
  db: Db;
  config: Config;
  recordings: RecordingStore;
  schedule: ScheduleStore;
  ffmpegPath: string;
}

export const EVIDENCE_VIDEO = 'evidence/evidence.mp4';

const overlaps = (a: { startedAt: string; endedAt: string | null }, b: { startedAt: string; endedAt: string | null }) =>
  Date.parse(a.startedAt) < (b.endedAt ? Date.parse(b.endedAt) : Infinity) && Date.parse(b.startedAt) < (a.endedAt ? Date.parse(a.endedAt) : Infinity);

/** Which record covers a gap: the other source, unless it was interrupted then too (or has nothing at all). */
export function coverOf(gap: Gap, gaps: readonly Gap[], hasSegments: Readonly<Record<BundleSource, boolean>>): BundleSource | 'none' {
  const other: BundleSource = gap.source === 'original' ? 'evidence' : 'original';
  if (!hasSegments[other]) return 'none';
  const otherDown = gaps.some((g) => g.source === other && (g.track === null || gap.track === null || g.track.split('.')[0] === gap.track.split('.')[0]) && overlaps(g, gap));
  return otherDown ? 'none' : other;
}

function runFfmpeg(ffmpeg: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => { err = (err + d).slice(-2000); });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}: ${err.trim().split('\n').slice(-2).join(' ')}`))));
  });
}

/**
 * Joins the evidence segments into one MP4 (`-c copy`, bit-exact muxing, so the
 * same segments always give the same bytes) at `out`, unless a stored join of
 * exactly these segments is already there.
 */
export async function joinEvidenceVideo(ffmpeg: string, dir: string, segments: readonly Segment[], out: string): Promise<BundleFile['joinedFrom'] & object> {
  const joinedFrom = segments.map((s) => ({ seq: s.seq, sha256: s.sha256, bytes: s.bytes }));
  const sidecar = `${out}.json`;
  if (existsSync(out) && existsSync(sidecar)) {
    try {
      const stored = JSON.parse(readFileSync(sidecar, 'utf8')) as { joinedFrom: unknown; bytes: number };
      if (JSON.stringify(stored.joinedFrom) === JSON.stringify(joinedFrom) && statSync(out).size === stored.bytes) return joinedFrom;
    } catch {
      // rebuilt below
    }
  }
  mkdirSync(path.dirname(out), { recursive: true });
  const list = `${out}.concat.txt`;
  const quote = (p: string) => `'${p.replace(/'/g, "'\\''")}'`;
  writeFileSync(list, segments.map((s) => `file ${quote(path.join(dir, ...s.path.split('/')))}\n`).join(''));
  const part = `${out}.part.mp4`;
  try {
    await runFfmpeg(ffmpeg, [
      '-hide_banner', '-nostdin', '-y', '-f', 'concat', '-safe', '0', '-i', list,
      '-map', '0', '-c', 'copy', '-map_metadata', '-1', '-fflags', '+bitexact', '-movflags', '+faststart', part,
    ]);
    renameSync(part, out);
    writeFileSync(sidecar, JSON.stringify({ joinedFrom, bytes: statSync(out).size }));
  } finally {
    rmSync(list, { force: true });
    rmSync(part, { force: true });
  }
  return joinedFrom;
}

export async function collectBundle(d: CollectorDeps, bookingId: string, workDir: string): Promise<EvidenceBundle> {
  const rec = d.recordings.recording(bookingId);
  if (!rec) throw new DomainError(404, 'not_found', `no recording for booking ${bookingId}`);
  if (rec.status !== 'finished' || !rec.endedAt) throw new DomainError(409, 'recording_not_finished', `the recording of booking ${bookingId} has not finished yet`);
  const booking = d.schedule.row(bookingId);
  if (!booking) throw new DomainError(404, 'not_found', `no booking ${bookingId}`);
  const room = d.config.site.rooms.find((r) => r.id === booking.room_id) ?? d.config.site.rooms.find((r) => r.id === rec.roomId);
  if (!room) throw new DomainError(409, 'unknown_room', `booking ${bookingId} names room ${booking.room_id}, which is not configured`);
  const dir = recordingDir(d.config.dataDir, bookingId);
  const segments = d.recordings.segments(bookingId);
  const gaps = d.recordings.gaps(bookingId);
  const chain = await d.recordings.verifyChain(bookingId);
  const head = chain.ok ? chain.head : (segments.at(-1)?.chainHash ?? '0'.repeat(64));

  const files: BundleFile[] = [];
  const evidence = segments.filter((s) => s.source === 'evidence');
  if (evidence.length) {
    const out = path.join(workDir, bookingId, 'evidence.mp4');
    const joinedFrom = await joinEvidenceVideo(d.ffmpegPath, dir, evidence, out);
    files.push({
      discPath: EVIDENCE_VIDEO, sourcePath: out, source: 'evidence', track: 'evidence',
      startedAt: (evidence[0] as Segment).startedAt, endedAt: (evidence.at(-1) as Segment).endedAt,
      bytes: statSync(out).size, sha256: await sha256File(out), container: 'mp4', codec: (evidence[0] as Segment).codec, joinedFrom,
    });
  }
  for (const s of segments.filter((x) => x.source === 'original')) {
    files.push({
      discPath: s.path, sourcePath: path.join(dir, ...s.path.split('/')), source: 'original', track: s.track, startedAt: s.startedAt,
      endedAt: s.endedAt, bytes: s.bytes, sha256: s.sha256, container: s.container, codec: s.codec,
    });
  }

  const hasSegments = { original: segments.some((s) => s.source === 'original'), evidence: evidence.length > 0 };
  const bundleGaps: BundleGap[] = gaps.map((g) => ({
    source: g.source, track: g.track, startedAt: g.startedAt, endedAt: g.endedAt, cause: g.cause, causeText: GAP_CAUSE_TEXT[g.cause],
    coveredBy: coverOf(g, gaps, hasSegments),
  }));

  // Parties of every session of the booking (a reopened session adds its own rows).
  const partyRows = d.db
    .prepare(
      `SELECT p.role, p.display_name, p.joined_at, p.left_at, p.leave_reason FROM parties p JOIN sessions s ON s.id = p.session_id
       WHERE s.booking_id = ? ORDER BY p.joined_at, p.id`
    )
    .all(bookingId) as Array<{ role: BundleParty['role']; display_name: string; joined_at: string; left_at: string | null; leave_reason: string | null }>;
  const whoOf = (role: BundleParty['role'], name: string) =>
    role === 'room' ? booking.detainee_id : role === 'prosecutor' ? booking.prosecutor_id : role === 'lawyer' ? booking.lawyer_id : name;
  const parties = new Map<string, BundleParty>();
  for (const r of partyRows) {
    const key = `${r.role}\u0000${r.role === 'guest' ? r.display_name : ''}`;
    const p = parties.get(key) ?? { role: r.role, who: whoOf(r.role, r.display_name), displayName: r.display_name, attendance: [] };
    p.attendance.push({ joinedAt: r.joined_at, leftAt: r.left_at, leaveReason: r.leave_reason });
    parties.set(key, p);
  }

  const statusHistory = d.schedule
    .historyOf(bookingId)
    .filter((h) => h.action.startsWith('status.'))
    .map((h) => ({ at: h.at, status: h.action.slice('status.'.length), actor: h.actor }));

  return {
    bookingId, caseNumber: booking.case_number, siteName: d.config.site.name,
    room: { id: room.id, name: room.name, nameEn: room.nameEn, kind: room.kind },
    sessionKind: booking.session_kind, priorityClass: booking.priority_class, procuratorateId: booking.procuratorate_id,
    detaineeId: booking.detainee_id, prosecutorId: booking.prosecutor_id, lawyer: { role: booking.lawyer_role, id: booking.lawyer_id },
    scheduled: { date: booking.date, start: formatMinute(booking.start_min as Parameters<typeof formatMinute>[0]), end: formatMinute(booking.end_min as Parameters<typeof formatMinute>[0]), timeZone: d.config.site.timeZone },
    recording: { startedAt: rec.startedAt, endedAt: rec.endedAt, sessionClockOrigin: rec.sessionClockOrigin },
    parties: [...parties.values()], statusHistory, gaps: bundleGaps, files, segmentChain: { head, intact: chain.ok },
  };
}
