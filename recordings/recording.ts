// The recording of one booking: every track of every party of the booking's
// sessions, from the moment the room joins until the booking's session closes
// for good. It outlives a session that is interrupted (worker death, server
// restart): the gap stays open until the reopened session is recorded again.
// It owns one TrackRecorder per producer; closing it closes them, and their
// last segments are in the chain before the recording is marked finished.
import type { types } from 'mediasoup';
import { TypedEmitter } from '../server/events.js';
import type { Logger } from '../server/logger.js';
import type { Session } from '../server/session/session.js';
import type { Party } from '../server/session/party.js';
import { isInterruption, type SessionCloseReason } from '../server/session/close-reason.js';
import type { GapCause } from './gap-cause.js';
import { recordingDir, type Gap, type RecordingStore, type Segment } from './recording-store.js';
import { TrackRecorder, type TrackRecorderOptions } from './track-recorder.js';

/** Why a recording stopped taking media: an end, or an interruption it resumes from. */
export type RecordingStop =
  | { kind: 'finished'; reason: SessionCloseReason | 'booking_not_live' | 'server_stopping' }
  | { kind: 'interrupted'; cause: GapCause };

export type RecordingEvents = {
  'track-started': [TrackRecorder];
  segment: [Segment];
  'gap-opened': [Gap];
  'gap-closed': [Gap];
  /** The recording is finished and every segment is in the chain. */
  closed: [];
};

export interface RecordingOptions extends Omit<TrackRecorderOptions, 'bookingDir'> {
  dataDir: string;
}

/** The gap cause of a session interruption. */
function gapCauseOf(reason: SessionCloseReason): GapCause {
  return reason === 'worker_died' ? 'worker_died' : 'server_restarted';
}

export class Recording extends TypedEmitter<RecordingEvents> {
  private session: Session | null = null;
  private readonly tracks = new Map<string, TrackRecorder>(); // by producer id
  private readonly trackGaps = new Map<string, number>(); // track name → open gap id
  private readonly guestNumbers = new Map<string, number>(); // party id → guest number
  private guestBase: number;
  private suspendedBy: GapCause | null = null;
  private closedFlag = false;
  private stopping: Promise<void> = Promise.resolve();
  private readonly bookingDir: string;
  private detach: (() => void) | null = null;

  constructor(
    readonly bookingId: string,
    readonly roomId: string,
    private readonly store: RecordingStore,
    private readonly o: RecordingOptions,
    private readonly log: Logger
  ) {
    super();
    this.bookingDir = recordingDir(o.dataDir, bookingId);
    // Guests keep counting across sessions and restarts: guest-1, guest-2, ...
    const guests = new Set(store.segments(bookingId).map((s) => /^guest-(\d+)\./.exec(s.track)?.[1]).filter((n): n is string => n !== undefined));
    this.guestBase = guests.size ? Math.max(...[...guests].map(Number)) : 0;
    // Track gaps left open by an earlier run (a party absent when the server stopped) close when the track is back.
    for (const g of store.openGaps(bookingId, 'original')) if (g.track !== null) this.trackGaps.set(g.track, g.id);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** The session being recorded (null between sessions). */
  get attached(): Session | null {
    return this.session;
  }

  trackRecorders(): TrackRecorder[] {
    return [...this.tracks.values()];
  }

  /** Records this session of the booking, from the moment its room party is there. */
  attach(session: Session): void {
    if (this.closedFlag || session.closed) return;
    if (this.session && !this.session.closed) throw new Error(`booking ${this.bookingId} is already recorded in session ${this.session.id}`);
    this.detach?.();
    this.session = session;
    const onJoined = (party: Party) => {
      if (party.role === 'room') this.beginIfRoom();
    };
    const onProducer = (p: { producerId: string; partyId: string }) => {
      if (this.recordingMedia()) this.recordProducer(p.producerId, p.partyId);
    };
    const onClosed = (reason: SessionCloseReason) => {
      this.detach?.();
      if (isInterruption(reason)) void this.stop({ kind: 'interrupted', cause: gapCauseOf(reason) });
      else void this.stop({ kind: 'finished', reason });
    };
    session.on('party-joined', onJoined);
    session.on('producer-added', onProducer);
    session.once('closed', onClosed);
    this.detach = () => {
      session.off('party-joined', onJoined);
      session.off('producer-added', onProducer);
      session.off('closed', onClosed);
      this.detach = null;
    };
    this.beginIfRoom();
  }

  private recordingMedia(): boolean {
    return !this.closedFlag && this.suspendedBy === null && this.session !== null && !this.session.closed && this.store.recording(this.bookingId)?.status === 'recording';
  }

  private beginIfRoom(): void {
    const session = this.session;
    if (!session || session.closed || this.closedFlag || this.suspendedBy !== null) return;
    if (!session.partyList().some((p) => p.role === 'room')) return;
    const rec = this.store.recording(this.bookingId);
    if (rec?.status !== 'recording') {
      this.store.started({ bookingId: this.bookingId, roomId: this.roomId });
      this.log.info({ bookingId: this.bookingId, sessionId: session.id }, 'recording started');
    }
    for (const party of session.partyList()) {
      for (const { producer } of party.producerEntries()) this.recordProducer(producer.id, party.id);
    }
  }

  private trackName(party: Party, kind: types.MediaKind): string {
    let base: string = party.role;
    if (party.role === 'guest') {
      let n = this.guestNumbers.get(party.id);
      if (n === undefined) {
        n = ++this.guestBase;
        this.guestNumbers.set(party.id, n);
      }
      base = `guest-${n}`;
    }
    return `${base}.${kind}`;
  }

  private recordProducer(producerId: string, partyId: string): void {
    const session = this.session;
    if (!session || this.tracks.has(producerId)) return;
    const party = session.party(partyId);
    const producer = party?.hasProducer(producerId);
    if (!party || !producer || producer.closed) return;
    const track = this.trackName(party, producer.kind);
    const tr = new TrackRecorder(track, party.id, producer, session.router, { ...this.o, bookingDir: this.bookingDir });
    this.tracks.set(producerId, tr);
    tr.on('segment', (s) => {
      const seg = this.write('segment', () =>
        this.store.addSegment({ bookingId: this.bookingId, source: 'original', track, partyId: party.id, path: s.path, startedAt: s.startedAt, endedAt: s.endedAt, bytes: s.bytes, sha256: s.sha256, container: s.container, codec: s.codec })
      );
      if (seg) this.emit('segment', seg);
    });
    tr.on('gap-opened', ({ cause, at }) => this.openTrackGap(track, cause, at));
    tr.on('gap-closed', ({ at }) => this.closeTrackGap(track, at));
    tr.on('writing', ({ at }) => {
      this.closeTrackGap(track, at);
      for (const g of this.store.openGaps(this.bookingId, 'original').filter((x) => x.track === null)) this.closeGap(g.id, at);
    });
    tr.once('closed', () => {
      if (this.tracks.get(producerId) === tr) this.tracks.delete(producerId);
    });
    // The producer went (the party left or republished) while the recording goes on: the track is
    // absent until a producer of the same track is written again.
    producer.observer.once('close', () => {
      if (!this.recordingMedia() || session.closed) return;
      const other = [...this.tracks.values()].some((t) => t !== tr && t.track === track && !t.closed && t.recording);
      if (!other) this.openTrackGap(track, 'party_absent', new Date().toISOString());
    });
    tr.start();
    this.emit('track-started', tr);
  }

  private openTrackGap(track: string, cause: GapCause, at: string): void {
    if (this.trackGaps.has(track) || this.closedFlag) return;
    const gap = this.write('gap', () => this.store.openGap({ bookingId: this.bookingId, source: 'original', track, startedAt: at, cause }));
    if (gap) {
      this.trackGaps.set(track, gap.id);
      this.emit('gap-opened', gap);
    }
  }

  private closeTrackGap(track: string, at: string): void {
    const id = this.trackGaps.get(track);
    if (id === undefined) return;
    this.trackGaps.delete(track);
    this.closeGap(id, at);
  }

  private closeGap(id: number, at: string): void {
    const gap = this.write('gap end', () => this.store.closeGap(id, at));
    if (gap) this.emit('gap-closed', gap);
  }

  /** A store write must never break the live session: log it loudly instead. */
  private write<T>(what: string, fn: () => T): T | null {
    try {
      return fn();
    } catch (err) {
      this.log.error({ err, bookingId: this.bookingId }, `cannot record ${what}`);
      return null;
    }
  }

  /** Stops taking media for a while (disk below its floor); resume() takes it up again. */
  async suspend(cause: GapCause): Promise<void> {
    if (this.closedFlag || this.suspendedBy !== null) return;
    this.suspendedBy = cause;
    await this.stop({ kind: 'interrupted', cause });
  }

  resume(): void {
    if (this.closedFlag || this.suspendedBy === null) return;
    this.suspendedBy = null;
    this.beginIfRoom();
  }

  /** Stops every track; an interruption leaves a gap open, a finish ends the recording. */
  stop(how: RecordingStop): Promise<void> {
    // The recording ends (or the gap starts) now, not when the last ffmpeg has written its end.
    const at = new Date().toISOString();
    this.stopping = this.stopping.then(async () => {
      if (this.closedFlag) return;
      const recording = this.store.recording(this.bookingId);
      if (how.kind === 'interrupted' && recording?.status === 'recording' && !this.store.openGaps(this.bookingId, 'original').some((g) => g.track === null)) {
        const gap = this.write('gap', () => this.store.openGap({ bookingId: this.bookingId, source: 'original', track: null, startedAt: at, cause: how.cause }));
        if (gap) this.emit('gap-opened', gap);
      }
      await Promise.all([...this.tracks.values()].map((t) => t.close()));
      this.tracks.clear();
      if (how.kind === 'finished') {
        this.closedFlag = true;
        this.detach?.();
        if (recording) this.write('finish', () => this.store.finished(this.bookingId, { at, reason: how.reason }));
        this.trackGaps.clear();
        this.log.info({ bookingId: this.bookingId, reason: how.reason }, 'recording finished');
        this.emit('closed');
      }
    });
    return this.stopping;
  }

  /** Ends the recording (the booking's recording is over). */
  close(reason: SessionCloseReason | 'booking_not_live' | 'server_stopping' = 'booking_finished'): Promise<void> {
    return this.stop({ kind: 'finished', reason });
  }

  /** Waits for any stop in progress. */
  settled(): Promise<void> {
    return this.stopping;
  }
}
