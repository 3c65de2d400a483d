// The server's recorder: every booking's session is recorded (standing demo
// sessions without a booking are not), with nothing to press. It keeps one
// Recording per booking across the booking's sessions, takes up recordings a
// previous run of the server left open (the gap between is "server
// restarted"), watches the free disk space and refuses new sessions below the
// reserve.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { TypedEmitter } from '../server/events.js';
import type { Logger } from '../server/logger.js';
import type { Session } from '../server/session/session.js';
import type { SessionRegistry } from '../server/session/session-registry.js';
import type { AuditTrail } from '../server/audit/audit-trail.js';
import type { Db } from '../server/db/database.js';
import { Recording, type RecordingOptions } from './recording.js';
import { recordingDir, sha256File, type RecordingStore } from './recording-store.js';
import { DiskWatch, formatBytes, type DiskLevel, type DiskState } from './disk-watch.js';
import { RtpPortPool } from './rtp-ports.js';

export interface RecorderConfig {
  dataDir: string;
  ffmpegPath: string;
  listenIp: string;
  segmentSeconds: number;
  restartDelayMs: number;
  diskReserveMiB: number;
  diskStopMiB: number;
  diskCheckSeconds: number;
  rtpMinPort: number;
  rtpMaxPort: number;
}

/** What staff and the clerk are told about the recording disk. */
export interface DiskNotice {
  level: DiskLevel;
  freeBytes: number;
  reserveBytes: number;
  message: string;
  at: string;
}

export type RecorderEvents = {
  'recording-started': [Recording];
  'recording-closed': [Recording];
  disk: [DiskNotice];
};

export interface RecorderDeps {
  config: RecorderConfig;
  registry: SessionRegistry;
  store: RecordingStore;
  db: Db;
  audit: AuditTrail;
  log: Logger;
  /** Whether a booking is still live (in its room or in session): a recording left open by a stopped server continues only then. */
  bookingLive: (bookingId: string) => boolean;
}

export class Recorder extends TypedEmitter<RecorderEvents> {
  private readonly recordings = new Map<string, Recording>();
  readonly disk: DiskWatch;
  private readonly ports: RtpPortPool;
  private sweepTimer: NodeJS.Timeout | null = null;
  private closing = false;

  constructor(private readonly d: RecorderDeps) {
    super();
    const c = d.config;
    this.disk = new DiskWatch(c.dataDir, c.diskReserveMiB, c.diskStopMiB, c.diskCheckSeconds * 1000);
    this.ports = new RtpPortPool(c.listenIp, c.rtpMinPort, c.rtpMaxPort);
    this.disk.on('changed', (state, previous) => this.diskChanged(state, previous));
    d.registry.setAdmission((roomId, bookingId) => {
      const refusal = this.admit(bookingId);
      if (refusal) {
        try {
          d.db.transaction(() => d.audit.append({ actor: 'recorder', action: 'session.refused', subject: `room:${roomId}`, detail: { bookingId, code: refusal.code, freeBytes: this.disk.state.freeBytes } }))();
        } catch (err) {
          d.log.error({ err }, 'cannot audit a refused session');
        }
      }
      return refusal;
    });
    d.registry.on('opened', (session) => this.sessionOpened(session));
  }

  /** Takes up recordings left open by a previous run, then records every booking session already open. */
  async start(): Promise<void> {
    for (const r of this.d.store.list({ status: 'recording' })) {
      const openAll = this.d.store.openGaps(r.bookingId, 'original').some((g) => g.track === null);
      await this.recoverOrphans(r.bookingId);
      if (!openAll) {
        // The server stopped without closing it (a crash): the gap starts where the originals end.
        const last = this.d.store.segments(r.bookingId, 'original').reduce((m, s) => (s.endedAt > m ? s.endedAt : m), r.startedAt);
        this.d.store.openGap({ bookingId: r.bookingId, source: 'original', track: null, startedAt: last, cause: 'server_restarted' });
      }
      this.ensure(r.bookingId, r.roomId);
    }
    for (const s of this.d.registry.list()) this.sessionOpened(s);
    this.disk.start();
    this.sweepTimer = setInterval(() => void this.sweep(), Math.max(1000, this.d.config.diskCheckSeconds * 1000));
    this.sweepTimer.unref();
  }

  recording(bookingId: string): Recording | undefined {
    return this.recordings.get(bookingId);
  }

  list(): Recording[] {
    return [...this.recordings.values()];
  }

  private options(): RecordingOptions {
    const c = this.d.config;
    return {
      dataDir: c.dataDir, ffmpegPath: c.ffmpegPath, segmentSeconds: c.segmentSeconds, listenIp: c.listenIp, ports: this.ports,
      restartDelayMs: c.restartDelayMs, log: this.d.log,
    };
  }

  private ensure(bookingId: string, roomId: string): Recording {
    let rec = this.recordings.get(bookingId);
    if (rec && !rec.closed) return rec;
    rec = new Recording(bookingId, roomId, this.d.store, this.options(), this.d.log);
    this.recordings.set(bookingId, rec);
    const r = rec;
    r.once('closed', () => {
      if (this.recordings.get(bookingId) === r) this.recordings.delete(bookingId);
      this.emit('recording-closed', r);
    });
    this.emit('recording-started', r);
    return r;
  }

  private sessionOpened(session: Session): void {
    if (this.closing || !session.bookingId || session.closed) return;
    const rec = this.ensure(session.bookingId, session.room.id);
    // A recording still stopping from the session before waits for it.
    void rec.settled().then(() => {
      const current = this.ensure(session.bookingId as string, session.room.id);
      if (!current.attached || current.attached.closed) current.attach(session);
      if (this.disk.state.level === 'critical') void current.suspend('disk_reserve');
    });
  }

  /** New booking sessions need room on the disk for their recording. */
  private admit(bookingId: string | null): { code: string; message: string } | null {
    if (bookingId === null) return null;
    // A booking whose recording is running keeps its session (a reopen after a worker death).
    if (this.d.store.recording(bookingId)?.status === 'recording') {
      return this.disk.check().level === 'critical' ? this.refusal(this.disk.state) : null;
    }
    const state = this.disk.check();
    return state.level === 'ok' ? null : this.refusal(state);
  }

  private refusal(state: DiskState): { code: string; message: string } {
    return {
      code: 'disk_reserve',
      message: `录像磁盘剩余空间 ${formatBytes(state.freeBytes)} 低于保留值 ${formatBytes(state.reserveBytes)}，暂停开启新会话 / free recording disk space ${formatBytes(state.freeBytes)} is below the reserve of ${formatBytes(state.reserveBytes)}: no new session can open until space is freed`,
    };
  }

  private diskChanged(state: DiskState, previous: DiskLevel): void {
    const free = formatBytes(state.freeBytes);
    const reserve = formatBytes(state.reserveBytes);
    const message =
      state.level === 'ok'
        ? `录像磁盘空间已恢复（剩余 ${free}） / recording disk space recovered (${free} free)`
        : state.level === 'low'
          ? `录像磁盘剩余 ${free}，低于保留值 ${reserve}：新会话将被拒绝，进行中的录像继续 / recording disk has ${free} free, below the reserve of ${reserve}: new sessions are refused, running recordings continue`
          : `录像磁盘剩余 ${free}，已近满：进行中的录像已安全结束分段并暂停 / recording disk almost full (${free} free): running recordings closed their segments cleanly and paused`;
    try {
      this.d.db.transaction(() =>
        this.d.audit.append({ actor: 'recorder', action: 'recording.disk', subject: 'disk:recordings', detail: { level: state.level, previous, freeBytes: state.freeBytes, reserveBytes: state.reserveBytes } })
      )();
    } catch (err) {
      this.d.log.error({ err }, 'cannot audit the disk state');
    }
    (state.level === 'ok' ? this.d.log.info.bind(this.d.log) : this.d.log.error.bind(this.d.log))({ level: state.level, freeBytes: state.freeBytes }, message);
    this.emit('disk', { level: state.level, freeBytes: state.freeBytes, reserveBytes: state.reserveBytes, message, at: state.at });
    for (const rec of this.recordings.values()) {
      if (state.level === 'critical') void rec.suspend('disk_reserve');
      else rec.resume();
    }
  }

  /** Recordings waiting for a session of a booking that is no longer live are finished. */
  private async sweep(): Promise<void> {
    for (const rec of [...this.recordings.values()]) {
      if (rec.closed || (rec.attached && !rec.attached.closed)) continue;
      if (this.d.bookingLive(rec.bookingId)) continue;
      await this.recoverOrphans(rec.bookingId);
      await rec.close('booking_not_live');
    }
  }

  /**
   * Segment files on disk that never reached the chain (written by ffmpeg
   * processes of a server that stopped abruptly; they end by themselves ~10 s
   * after the media stops) are hashed and added, so nothing recorded is lost.
   */
  async recoverOrphans(bookingId: string): Promise<number> {
    const dir = path.join(recordingDir(this.d.config.dataDir, bookingId), 'originals');
    const known = new Set(this.d.store.segments(bookingId, 'original').map((s) => s.path));
    let added = 0;
    let tracks: string[];
    try {
      tracks = readdirSync(dir);
    } catch {
      return 0;
    }
    for (const track of tracks.sort()) {
      let files: string[];
      try {
        files = readdirSync(path.join(dir, track)).filter((f) => f.endsWith('.webm')).sort();
      } catch {
        continue;
      }
      for (const f of files) {
        const rel = `originals/${track}/${f}`;
        if (known.has(rel)) continue;
        const file = path.join(dir, track, f);
        const st = statSync(file);
        // Still being written by an orphaned ffmpeg: next time.
        if (st.size === 0 || Date.now() - st.mtimeMs < 12_000) continue;
        const m = /^(\d{8})T(\d{6})(\d{3})Z-/.exec(f);
        const started = m ? `${m[1]!.slice(0, 4)}-${m[1]!.slice(4, 6)}-${m[1]!.slice(6)}T${m[2]!.slice(0, 2)}:${m[2]!.slice(2, 4)}:${m[2]!.slice(4)}.${m[3]}Z` : new Date(st.birthtimeMs || st.mtimeMs).toISOString();
        const ended = new Date(Math.max(st.mtimeMs, Date.parse(started))).toISOString();
        try {
          const sha256 = await sha256File(file);
          this.d.store.addSegment({
            bookingId, source: 'original', track, partyId: null, path: rel, startedAt: started, endedAt: ended, bytes: st.size, sha256, container: 'webm',
            codec: track.endsWith('.audio') ? 'opus' : 'vp8',
          }, 'recorder:recovery');
          added++;
        } catch (err) {
          this.d.log.error({ err, file }, 'cannot add a recovered segment');
        }
      }
    }
    if (added) this.d.log.warn({ bookingId, added }, 'recovered segments left by a previous run');
    return added;
  }

  /** Stops recording: interrupted recordings keep their gap open for the next run. */
  async close(): Promise<void> {
    this.closing = true;
    this.disk.stop();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await Promise.all([...this.recordings.values()].map((r) => r.settled()));
  }
}
