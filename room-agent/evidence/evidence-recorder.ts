// The room agent's evidence video of a booking's session: starts the live
// compositor when the agent joins a booking's session (never a standing demo
// session), feeds it the other parties' decoded pictures and sound through
// taps on the players, seals each segment as it closes (SHA-256, sidecar) and
// hands it to the uploader. Rejoining (reconnect, agent restart) starts a new
// run: its segments carry their own run id, so nothing is overwritten.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { EvidenceBrief, PartyRole, PlainConsumerInfo, SessionClockView } from '../../server/signalling/protocol.js';
import type { ChildReaper } from '../child-reaper.js';
import type { PlayerTap } from '../player.js';
import { findFont } from '../synthetic-clip.js';
import { beepFlashLavfi } from '../beep-flash-clip.js';
import { EvidenceCompositor, type MainSource, type ClosedSegment } from './compositor.js';
import { SegmentUploader, sealSegment } from './segment-uploader.js';
import type { CaptureTap } from '../capture-tap.js';

export type EvidenceCapture =
  | { kind: 'synthetic'; clip: string }
  | { kind: 'beep-flash' }
  /** The room's real camera and microphone, as captured by the publisher (the one process that opens them). */
  | { kind: 'shared'; tap: CaptureTap };

export interface EvidenceOptions {
  ffmpegPath: string;
  serverUrl: string;
  roomId: string;
  credential: string;
  /** The agent's work directory; segments go to <workDir>/evidence/<bookingId>/. */
  workDir: string;
  width?: number;
  height?: number;
  segmentSeconds?: number;
  preset?: 'ultrafast' | 'superfast' | 'veryfast';
  children?: ChildReaper;
  log?: (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;
  /** The room PC's clock (default Date.now); the session clock is this plus the offset from the join. */
  roomClock?: () => number;
}

const FPS = 25;
const INSET_W = 224;
const INSET_H = 168;
const slotLabels: Array<{ role: PartyRole; label: string }> = [
  { role: 'prosecutor', label: '检察官 Prosecutor' },
  { role: 'lawyer', label: '律师 Lawyer' },
  { role: 'guest', label: '来宾 Guest' },
];

/** The evidence video's layout: inset size and which party's inset is in which slot. */
export const evidenceLayout = {
  fps: FPS,
  insetWidth: INSET_W,
  insetHeight: INSET_H,
  slotOf: (role: PartyRole): number => slotLabels.findIndex((s) => s.role === role),
} as const;

/** The player's second output for an inset: decoded, scaled and padded frames, raw yuv420p. */
export function insetTapArgs(width = INSET_W, height = INSET_H): string[] {
  return [
    '-map', '0:v:0',
    '-vf', `scale=${width}:${height}:force_original_aspect_ratio=decrease:flags=fast_bilinear,pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2,format=yuv420p`,
    '-f', 'rawvideo', 'pipe:3',
  ];
}

/**
 * The player's second output for sound: PCM s16le, 48 kHz, stereo, each
 * decoded packet written at once (ffmpeg would otherwise hold 32 KiB, 170 ms
 * of sound, in its output buffer: the party's sound would come in bursts and
 * its delay in the evidence video wander by as much).
 */
export const audioTapArgs = (): string[] => ['-map', '0:a:0', '-ar', '48000', '-ac', '2', '-f', 's16le', '-flush_packets', '1', 'pipe:3'];

/** Cuts a byte stream into whole frames of `frameBytes`. */
export function frameSplitter(frameBytes: number, onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer[] = [];
  let have = 0;
  return (d) => {
    pending.push(d);
    have += d.length;
    if (have < frameBytes) return;
    let all = Buffer.concat(pending);
    while (all.length >= frameBytes) {
      onFrame(all.subarray(0, frameBytes));
      all = all.subarray(frameBytes);
    }
    pending = all.length ? [all] : [];
    have = all.length;
  };
}

/** Session clock minus this machine's clock (ms), from the join reply and its round trip. */
export function clockOffsetMs(clock: SessionClockView, sentAtMs: number, receivedAtMs: number): number {
  return clock.serverTimeMs - (sentAtMs + receivedAtMs) / 2;
}

export class EvidenceRecorder {
  readonly uploader: SegmentUploader;
  private compositor: EvidenceCompositor | null = null;
  private brief: EvidenceBrief | null = null;
  private offsetMs = 0;
  private readonly slotOf = new Map<string, number>(); // consumerId -> inset slot
  private sealing: Promise<void> = Promise.resolve();
  runs = 0;
  crashes = 0;
  private active = false;

  constructor(private readonly options: EvidenceOptions) {
    this.uploader = new SegmentUploader({
      serverUrl: options.serverUrl,
      roomId: options.roomId,
      credential: options.credential,
      dir: this.dir,
      ...(options.log ? { log: options.log } : {}),
    });
  }

  get dir(): string {
    return path.join(this.options.workDir, 'evidence');
  }

  get current(): EvidenceCompositor | null {
    return this.compositor;
  }

  /** Starts the uploader (and uploads what a previous run left). */
  start(): void {
    this.uploader.start();
  }

  /** The agent joined a session: for a booking's session, start rendering. */
  begin(brief: EvidenceBrief | null, clock: SessionClockView, offsetMs: number, capture: EvidenceCapture, restart = false): void {
    if (!brief) return;
    if (this.compositor) this.compositor.kill();
    this.watchTap(capture, brief, clock);
    this.active = true;
    this.brief = brief;
    this.offsetMs = offsetMs;
    // After a crash the players stay, and so do their slots.
    if (!restart) this.slotOf.clear();
    const o = this.options;
    // The server's session clock: the room PC's clock (which may be wrong) plus the offset measured at the join.
    const sessionNow = (this.options.roomClock ?? Date.now)() + offsetMs;
    const runId = new Date(sessionNow).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const dir = path.join(this.dir, safeName(brief.bookingId));
    mkdirSync(dir, { recursive: true });
    let main: MainSource;
    if (capture.kind === 'beep-flash') {
      const nameFile = path.join(dir, `${runId}.room.txt`);
      writeFileSync(nameFile, brief.roomName);
      main = { kind: 'lavfi', graph: beepFlashLavfi({ roomId: o.roomId, roomName: brief.roomName }, nameFile, offsetMs) };
    } else if (capture.kind === 'synthetic') main = { kind: 'file', path: capture.clip, loop: true };
    else main = { kind: 'capture-tap' };
    let tapInput: Writable | null = null;
    const compositor = new EvidenceCompositor(
      {
        ffmpegPath: o.ffmpegPath,
        main,
        width: o.width ?? 1024,
        height: o.height ?? 576,
        fps: FPS,
        slots: slotLabels.map((s) => ({ label: s.label })),
        insetWidth: INSET_W,
        insetHeight: INSET_H,
        sessionClockAtStartMs: sessionNow,
        timeZone: clock.timeZone,
        caseNumber: brief.caseNumber,
        roomName: brief.roomName,
        fontFile: findFont(),
        dir,
        prefix: runId,
        segmentSeconds: o.segmentSeconds ?? 180,
        preset: o.preset ?? 'ultrafast',
        threads: 2,
        ...(o.children ? { children: o.children } : {}),
      },
      {
        segment: (seg) => this.onSegment(compositor, brief, seg),
        exit: (code, detail) => {
          if (capture.kind === 'shared' && tapInput) capture.tap.detach(tapInput);
          if (this.compositor !== compositor || compositor.isStopping) return;
          // Crashed: a new run (its own segment names) after a second; the players' taps follow it.
          this.compositor = null;
          o.log?.('warn', `evidence encoder exited (${code}); starting a new run`, { detail });
          this.crashes++;
          // Back off when it keeps crashing (1 s, then up to 30 s).
          const delay = Math.min(30_000, 1000 * 2 ** Math.max(0, this.crashes - 3));
          setTimeout(() => {
            if (this.compositor === null && this.brief === brief && this.active) this.begin(brief, clock, this.offsetMs, capture, true);
          }, delay).unref();
        },
      }
    );
    this.compositor = compositor;
    compositor.start();
    tapInput = compositor.mainInput;
    if (capture.kind === 'shared' && tapInput) capture.tap.attach(tapInput);
    this.runs++;
    o.log?.('info', 'rendering the evidence video', { bookingId: brief.bookingId, run: runId });
  }

  private watchedTap: { tap: CaptureTap; listener: () => void } | null = null;

  /**
   * The publisher restarting begins a new stream (new timestamps): the current
   * run ends there and a new one starts on the new stream (a gap between runs,
   * as after an encoder crash), rather than one run across a time jump.
   */
  private watchTap(capture: EvidenceCapture, brief: EvidenceBrief, clock: SessionClockView): void {
    if (this.watchedTap && (capture.kind !== 'shared' || this.watchedTap.tap !== capture.tap)) {
      this.watchedTap.tap.off('restarted', this.watchedTap.listener);
      this.watchedTap = null;
    }
    if (capture.kind !== 'shared' || this.watchedTap) return;
    const tap = capture.tap;
    const listener = (): void => {
      const c = this.compositor;
      if (!c || !this.active || this.brief !== brief || c.framesEncoded === 0) return;
      this.options.log?.('warn', 'the capture restarted: the evidence video goes on in a new run');
      this.compositor = null;
      if (c.mainInput) tap.detach(c.mainInput);
      c.kill();
      this.begin(brief, clock, this.offsetMs, capture, true);
    };
    tap.on('restarted', listener);
    this.watchedTap = { tap, listener };
  }

  private onSegment(compositor: EvidenceCompositor, brief: EvidenceBrief, seg: ClosedSegment): void {
    const startedAt = new Date(compositor.clockAtStartMs + seg.startS * 1000).toISOString();
    const endedAt = new Date(compositor.clockAtStartMs + seg.endS * 1000).toISOString();
    this.sealing = this.sealing.then(async () => {
      try {
        const record = await sealSegment(seg.file, { bookingId: brief.bookingId, roomId: this.options.roomId, startedAt, endedAt });
        this.uploader.enqueue(seg.file, record);
      } catch (err) {
        this.options.log?.('error', `cannot seal evidence segment ${seg.file}: ${(err as Error).message}`);
      }
    });
  }

  /** A tap for a player of another party, or undefined when not rendering. */
  tapFor(info: PlainConsumerInfo): PlayerTap | undefined {
    const compositor = this.compositor;
    if (!compositor) return undefined;
    if (info.kind === 'audio') {
      // The current run, whichever it is (a crashed encoder is replaced under the tap).
      return { outputArgs: audioTapArgs(), onData: (d) => this.compositor?.audioData(info.consumerId, d) };
    }
    const used = new Set(this.slotOf.values());
    const slot = slotLabels.findIndex((s, i) => s.role === info.role && !used.has(i));
    if (slot < 0) return undefined; // more guests than slots: heard, not shown
    this.slotOf.set(info.consumerId, slot);
    return { outputArgs: insetTapArgs(), onData: frameSplitter(compositor.insetFrameBytes, (f) => this.compositor?.insetFrame(slot, f)) };
  }

  /** A player of another party stopped (its producer closed, the party left). */
  released(info: PlainConsumerInfo): void {
    const slot = this.slotOf.get(info.consumerId);
    if (slot !== undefined) {
      this.compositor?.clearInset(slot);
      this.slotOf.delete(info.consumerId);
    }
    if (info.kind === 'audio') this.compositor?.removeAudio(info.consumerId);
  }

  private ending: Promise<void> = Promise.resolve();

  /**
   * Resolves once the last run has ended: its final segment closed by the
   * encoder and sealed (queued for upload). Set in the same tick as `current`
   * becomes null, so a caller that sees no current run can wait on it.
   */
  get settled(): Promise<void> {
    return this.ending;
  }

  /** The session ended for the agent: close the last segment (it is sealed and uploaded). */
  async end(): Promise<void> {
    const run = this.endRun();
    this.ending = run;
    await run;
  }

  private async endRun(): Promise<void> {
    const c = this.compositor;
    this.compositor = null;
    this.active = false;
    if (this.watchedTap) {
      this.watchedTap.tap.off('restarted', this.watchedTap.listener);
      this.watchedTap.tap.detach();
      this.watchedTap = null;
    }
    this.slotOf.clear();
    if (c) await c.stop();
    await this.sealing;
  }

  /** The agent stops for good: end the run, stop uploading (what is left stays on disk). */
  async stop(): Promise<void> {
    await this.end();
    this.uploader.stop();
  }
}

function safeName(id: string): string {
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(id) || id.startsWith('.')) throw new Error(`unusable booking id for a directory: ${JSON.stringify(id)}`);
  return id;
}
