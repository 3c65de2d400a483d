// The live evidence-video compositor of a room agent. One encoder ffmpeg reads
// the room's own camera and microphone (full quality, in sync at the source:
// with real devices, the publisher's own capture through a CaptureTap on its
// stdin, since only one process can open the devices) and, from this process, one raw-video pipe per inset slot and one PCM
// pipe with the other parties' audio mixed. This process clocks those pipes at
// a fixed rate: the latest decoded frame of each inset (or a placeholder when
// its party stalled or left) and the mixed audio (silence for a stalled party).
// So the encoder never waits on a remote party: the room's picture never
// freezes because an inset did. The pipes run a fixed delay behind the room's
// picture (remoteDelayMs: what the remote parties' pictures and sound take to
// get here), so what happens at the same moment at the room and at a party
// shows at the same moment in the evidence video. The encoder burns in the session clock's date
// and time (pts + the session clock at the first frame), the case number and
// the room, encodes H.264 + AAC and cuts self-contained MPEG-TS segments, each
// reported when it closes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { ChildReaper } from '../child-reaper.js';
import { captureTapInputArgs } from '../capture-tap.js';

export interface InsetSlot {
  /** Shown under the inset (e.g. 检察官 / Prosecutor). */
  label: string;
}

export type MainSource =
  | { kind: 'file'; path: string; loop: boolean }
  /** A live lavfi graph with video [out0] and audio [out1] (synthetic rooms). */
  | { kind: 'lavfi'; graph: string }
  /** The publisher's capture (MPEG-TS, picture and sound together) written to the encoder's stdin. */
  | { kind: 'capture-tap' };

export interface CompositorOptions {
  ffmpegPath: string;
  main: MainSource;
  width: number;
  height: number;
  fps: number;
  slots: InsetSlot[];
  insetWidth: number;
  insetHeight: number;
  /** Session clock (epoch ms) at the encoder's first frame: the burned-in time is this plus pts. */
  sessionClockAtStartMs: number;
  /** IANA time zone the time is shown in (the site's). */
  timeZone: string;
  caseNumber: string;
  roomName: string;
  fontFile: string | null;
  dir: string;
  /** Segment files are `<prefix>-00001.ts`, ... */
  prefix: string;
  segmentSeconds: number;
  preset: 'ultrafast' | 'superfast' | 'veryfast';
  threads: number;
  /**
   * How much later than the room's own picture and sound a remote party's
   * arrive here (capture, encoder, network, mediasoup, the player's decoder):
   * the insets and their sound are clocked into the encoder this much after
   * the room's picture of the same moment, so the parties line up in the
   * evidence video (the encoder holds the room's side back to match).
   */
  remoteDelayMs?: { video: number; audio: number };
  children?: ChildReaper;
}

export interface ClosedSegment {
  file: string;
  /** 1-based index within this encoder run. */
  index: number;
  /** Seconds from the run's first frame. */
  startS: number;
  endS: number;
}

export interface CompositorEvents {
  segment(seg: ClosedSegment): void;
  exit(code: number | null, detail: string): void;
}

const SAMPLE_RATE = 48_000;
const CHANNELS = 2;
/** Ticks written to the pipes before the encoder starts: enough for it to open them. */
const PRE_START_TICKS = 2;
/**
 * The remote parties' delay behind the room's own picture and sound, measured
 * here (test/party-alignment.test.ts, 2026-12-02, this 2-core machine under
 * load, parties on the same host): pictures 120 and 160 ms, sound 26 and
 * 96 ms (the sound's mixing buffer holds 0–60 ms). A site whose parties are
 * further away configures its own (the agent's evidence.remoteDelayMs).
 */
export const DEFAULT_REMOTE_DELAY_MS = { video: 140, audio: 60 } as const;

/** A remote party's audio waiting to be mixed: a small FIFO with a prebuffer. */
class AudioFifo {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private playing = false;
  lastDataAt = 0;
  constructor(private readonly prebufferBytes: number, private readonly maxBytes: number) {}

  push(chunk: Buffer, now: number): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    this.lastDataAt = now;
    // Far behind (a burst after a stall): drop the oldest, keep the delay bounded.
    while (this.bytes > this.maxBytes && this.chunks.length) {
      const first = this.chunks[0]!;
      const excess = this.bytes - this.prebufferBytes;
      if (first.length <= excess) {
        this.chunks.shift();
        this.bytes -= first.length;
      } else {
        const cut = excess - (excess % 4);
        this.chunks[0] = first.subarray(cut);
        this.bytes -= cut;
      }
    }
  }

  /** Adds `out.length` bytes of samples into `mix` (s16 stereo interleaved); silence when starved. */
  mixInto(mix: Int32Array): void {
    const need = mix.length * 2;
    if (!this.playing) {
      if (this.bytes < this.prebufferBytes) return;
      this.playing = true;
    }
    if (this.bytes < need) {
      // Starved: wait for the prebuffer again rather than stutter.
      this.playing = false;
      return;
    }
    let filled = 0;
    while (filled < need) {
      const first = this.chunks[0]!;
      const take = Math.min(first.length, need - filled);
      for (let i = 0; i + 1 < take; i += 2) mix[(filled + i) >> 1]! += first.readInt16LE(i);
      filled += take;
      if (take === first.length) this.chunks.shift();
      else this.chunks[0] = first.subarray(take);
      this.bytes -= take;
    }
  }
}

/** Latest frame of an inset, by arrival. */
interface InsetState {
  frame: Buffer | null;
  /** performance.now() at arrival. */
  at: number;
  /** The last half second of frames, by arrival: a tick written late takes the frame of its own time, not a newer one. */
  recent: Array<{ frame: Buffer; at: number }>;
}

export class EvidenceCompositor {
  private child: ChildProcess | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly insets: InsetState[];
  private readonly audio = new Map<string, AudioFifo>();
  private readonly placeholder: Buffer;
  private readonly frameBytes: number;
  private readonly samplesPerTick: number;
  /** Ticks written to the inset pipes and to the sound pipe: tick k is pts k/fps on each. */
  private ticks = 0;
  private audioTicks = 0;
  private t0 = 0;
  /** When (performance.now) the room's pts 0 was captured, once known; the pipes are clocked from it. */
  private mainStart: number | null = null;
  /** Inset frames owed to a pipe that was too far behind to take them: written when it catches up, so its pts stay on time. */
  private readonly owed: number[];
  private stopping = false;
  private stderrTail = '';
  private csvTail = '';
  private exitPromise: Promise<void> | null = null;
  /** Frames the encoder reported (from -progress): the measure that the picture keeps coming. */
  framesEncoded = 0;
  /**
   * Inset frames not written because the encoder had not yet taken the earlier
   * ones (it started late, or was starved of CPU): dropping them keeps the
   * insets' delay bounded instead of growing.
   */
  overruns = 0;
  /**
   * Session clock (epoch ms) at the run's first frame: estimated at spawn, then
   * set when ffmpeg starts transcoding (its "Stream mapping" line: the moment
   * its -re clock starts), and the burned-in clock follows (drawtext reloads).
   */
  clockAtStartMs: number;
  /** Whether clockAtStartMs was taken from ffmpeg's start (not only estimated at spawn). */
  clockCalibrated = false;
  private readonly spawnClockMs: number;
  private clockFile = '';
  /** Insets shown as placeholder since their party stalled. */
  stalledInsetTicks = 0;
  /** Time this process spent clocking out frames and mixing sound (ms): its share of the load. */
  clockMs = 0;
  /** Decoded frames received per inset slot. */
  readonly insetFramesIn: number[];

  constructor(private readonly options: CompositorOptions, private readonly events: CompositorEvents) {
    if (!Number.isInteger(SAMPLE_RATE / options.fps)) throw new Error(`fps ${options.fps} does not divide ${SAMPLE_RATE} Hz into whole samples per frame`);
    this.insets = options.slots.map(() => ({ frame: null, at: 0, recent: [] }));
    this.insetFramesIn = options.slots.map(() => 0);
    this.owed = options.slots.map(() => 0);
    this.frameBytes = (options.insetWidth * options.insetHeight * 3) / 2;
    this.placeholder = placeholderFrame(options.insetWidth, options.insetHeight);
    this.samplesPerTick = Math.round(SAMPLE_RATE / options.fps);
    this.clockAtStartMs = options.sessionClockAtStartMs;
    this.spawnClockMs = options.sessionClockAtStartMs;
  }

  get insetFrameBytes(): number {
    return this.frameBytes;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** The encoder's pid while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The encoder's stdin, for a 'capture-tap' main source. */
  get mainInput(): Writable | null {
    return this.options.main.kind === 'capture-tap' ? (this.child?.stdin ?? null) : null;
  }

  /** A decoded inset frame (yuv420p, insetWidth x insetHeight) for a slot. */
  insetFrame(slot: number, frame: Buffer): void {
    const s = this.insets[slot];
    if (!s || frame.length !== this.frameBytes) return;
    s.frame = frame;
    s.at = performance.now();
    s.recent.push({ frame, at: s.at });
    if (s.recent.length > 16) s.recent.shift();
    this.insetFramesIn[slot]!++;
  }

  /** The slot's party left: show the placeholder at once. */
  clearInset(slot: number): void {
    const s = this.insets[slot];
    if (s) {
      s.frame = null;
      s.recent = [];
    }
  }

  /** Decoded remote audio (s16le, 48 kHz, stereo) of one track. */
  audioData(trackId: string, pcm: Buffer): void {
    let fifo = this.audio.get(trackId);
    if (!fifo) {
      const bytesPerMs = (SAMPLE_RATE * CHANNELS * 2) / 1000;
      // Never more than 120 ms queued: after a stall refilled the prebuffer, a burst
      // brings it back to 60 ms, so the party's sound keeps its place against the room's.
      fifo = new AudioFifo(Math.round(60 * bytesPerMs) & ~3, Math.round(120 * bytesPerMs) & ~3);
      this.audio.set(trackId, fifo);
    }
    fifo.push(pcm, Date.now());
  }

  removeAudio(trackId: string): void {
    this.audio.delete(trackId);
  }

  start(): void {
    const o = this.options;
    mkdirSync(o.dir, { recursive: true });
    const args = this.buildArgs();
    const stdio: Array<'pipe' | 'ignore'> = [o.main.kind === 'capture-tap' ? 'pipe' : 'ignore', 'pipe', 'pipe'];
    for (let i = 0; i < o.slots.length + 1; i++) stdio.push('pipe');
    const child = spawn(o.ffmpegPath, args, { stdio, env: { ...process.env, TZ: o.timeZone } });
    this.child = child;
    o.children?.add(child.pid);
    child.stdout?.on('data', (d: Buffer) => this.onStdout(d));
    child.stderr?.on('data', (d: Buffer) => {
      const text = d.toString();
      if (!this.clockCalibrated && /^Stream mapping:/m.test(text)) this.calibrate();
      for (const m of text.matchAll(/^frame=(\d+)/gm)) this.framesEncoded = Math.max(this.framesEncoded, Number(m[1]));
      // Keep the tail of real messages, not progress lines, for the exit detail.
      const messages = text.split('\n').filter((l) => l && !/^[a-z_0-9]+=/.test(l)).join('\n');
      if (messages) this.stderrTail = (this.stderrTail + messages + '\n').slice(-4000);
    });
    const pipes = this.pipes();
    for (const p of pipes) p.on('error', () => undefined);
    child.stdin?.on('error', () => undefined);
    this.exitPromise = new Promise((resolve) => {
      // A failed spawn (ENOENT, EAGAIN, ...) is an exit like a crash: the recorder starts a new run.
      child.on('error', (err) => {
        this.stderrTail = (this.stderrTail + `spawn failed: ${err.message}\n`).slice(-4000);
        if (child.pid === undefined) onClose(null);
      });
      let closed = false;
      const onClose = (code: number | null): void => {
        if (closed) return;
        closed = true;
        o.children?.remove(child.pid);
        this.stopClock();
        this.child = null;
        this.events.exit(code, this.stderrTail.trim());
        resolve();
      };
      child.on('close', onClose);
    });
    this.t0 = performance.now();
    this.ticks = 0;
    this.audioTicks = 0;
    this.mainStart = null;
    this.tick();
  }

  private pipes(): Writable[] {
    const c = this.child;
    if (!c) return [];
    const out: Writable[] = [];
    for (let i = 0; i < this.options.slots.length + 1; i++) out.push(c.stdio[3 + i] as Writable);
    return out;
  }

  private buildArgs(): string[] {
    const o = this.options;
    const args = ['-hide_banner', '-loglevel', 'info', '-nostdin', '-nostats', '-progress', 'pipe:2', '-stats_period', '1'];
    if (o.main.kind === 'file') {
      args.push('-re', ...(o.main.loop ? ['-stream_loop', '-1'] : []), '-thread_queue_size', '64', '-i', o.main.path);
    } else if (o.main.kind === 'lavfi') {
      args.push('-re', '-f', 'lavfi', '-thread_queue_size', '64', '-i', o.main.graph);
    } else {
      args.push(...captureTapInputArgs());
    }
    const mainAudio = '0:a:0';
    const firstPipeInput = 1;
    o.slots.forEach((_s, i) => {
      args.push('-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-video_size', `${o.insetWidth}x${o.insetHeight}`, '-framerate', String(o.fps), '-probesize', '32', '-analyzeduration', '0', '-thread_queue_size', '64', '-i', `pipe:${3 + i}`);
    });
    const audioInput = firstPipeInput + o.slots.length;
    args.push('-f', 's16le', '-ar', String(SAMPLE_RATE), '-ac', String(CHANNELS), '-probesize', '32', '-analyzeduration', '0', '-thread_queue_size', '64', '-i', `pipe:${3 + o.slots.length}`);

    // Text goes through files: no outside text is ever parsed as filter syntax.
    const font = o.fontFile ? `fontfile='${o.fontFile}':` : '';
    const clockFile = path.join(o.dir, `${o.prefix}.clock.txt`);
    this.clockFile = clockFile;
    this.writeClock(o.sessionClockAtStartMs);
    const captionFile = path.join(o.dir, `${o.prefix}.caption.txt`);
    writeFileSync(captionFile, `${o.caseNumber}    ${o.roomName}`);
    const fs = Math.round(o.height / 20);
    const filters: string[] = [];
    filters.push(`[0:v:0]fps=${o.fps},scale=${o.width}:${o.height}:force_original_aspect_ratio=decrease:flags=fast_bilinear,pad=${o.width}:${o.height}:(ow-iw)/2:(oh-ih)/2,format=yuv420p[m0]`);
    const margin = INSET_MARGIN;
    o.slots.forEach((slot, i) => {
      const { x, y } = insetRect(o, i);
      const labelFile = path.join(o.dir, `${o.prefix}.slot${i}.txt`);
      writeFileSync(labelFile, slot.label);
      filters.push(`[m${i}][${firstPipeInput + i}:v]overlay=x=${x}:y=${y}:eof_action=repeat:repeatlast=1,drawtext=${font}textfile='${labelFile}':fontsize=${Math.round(fs * 0.7)}:fontcolor=white:box=1:boxcolor=black@0.55:boxborderw=4:x=${x + 4}:y=${y + o.insetHeight - Math.round(fs * 0.7) - 8}[m${i + 1}]`);
    });
    const last = `m${o.slots.length}`;
    filters.push(
      `[${last}]drawtext=${font}textfile='${clockFile}':reload=1:expansion=normal:fontsize=${fs}:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=6:x=${margin}:y=${margin},` +
        `drawtext=${font}textfile='${captionFile}':expansion=none:fontsize=${Math.round(fs * 0.8)}:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=6:x=${margin}:y=h-th-${margin + 6}[v]`
    );
    filters.push(`[${mainAudio}]aresample=${SAMPLE_RATE},aformat=channel_layouts=stereo[ma];[ma][${audioInput}:a]amix=inputs=2:duration=first:normalize=0[a]`);
    args.push('-filter_complex', filters.join(';'), '-map', '[v]', '-map', '[a]');
    const gop = o.fps * 2;
    args.push(
      '-c:v', 'libx264', '-preset', o.preset, '-tune', 'zerolatency', '-profile:v', 'high', '-pix_fmt', 'yuv420p', '-crf', '23', '-maxrate', '2500k', '-bufsize', '5000k',
      '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0', '-force_key_frames', `expr:gte(t,n_forced*${o.segmentSeconds})`, '-threads', String(o.threads),
      '-c:a', 'aac', '-b:a', '96k', '-ar', String(SAMPLE_RATE), '-ac', '2',
      '-f', 'segment', '-segment_format', 'mpegts', '-segment_time', String(o.segmentSeconds), '-segment_start_number', '1',
      '-segment_list', 'pipe:1', '-segment_list_type', 'csv', '-reset_timestamps', '0',
      path.join(o.dir, `${o.prefix}-%05d.ts`)
    );
    return args;
  }

  /**
   * ffmpeg starts transcoding now: a live source read with -re (lavfi, file)
   * has its pts 0 now. The burned-in clock and the pipes' clock follow.
   */
  private calibrate(): void {
    this.clockCalibrated = true;
    const now = performance.now();
    // The capture tap's stream too, as before: when its pts 0 was captured is not known
    // here (placed at spawn, or at the tap's hand-over of ffmpeg's start packet, the clock
    // measured 0 to 300 ms off run by run; not solved).
    this.mainStart = now;
    this.clockAtStartMs = this.spawnClockMs + (this.mainStart - this.t0);
    this.writeClock(this.clockAtStartMs);
    if (this.timer) clearTimeout(this.timer);
    this.tick();
  }

  private writeClock(atMs: number): void {
    // Atomic: drawtext re-reads the file before every frame.
    const tmp = `${this.clockFile}.tmp`;
    writeFileSync(tmp, `%{pts:localtime:${(atMs / 1000).toFixed(3)}:%Y-%m-%d %H\\:%M\\:%S}`);
    renameSync(tmp, this.clockFile);
  }

  private onStdout(d: Buffer): void {
    // The segment list: "file,start,end" per closed segment.
    this.csvTail += d.toString();
    let nl: number;
    while ((nl = this.csvTail.indexOf('\n')) >= 0) {
      const line = this.csvTail.slice(0, nl).trim();
      this.csvTail = this.csvTail.slice(nl + 1);
      const m = /^(.+?),(-?[\d.]+),(-?[\d.]+)$/.exec(line);
      if (!m) continue;
      const file = path.join(this.options.dir, path.basename(m[1]!));
      const index = Number(/-(\d+)\.ts$/.exec(file)?.[1] ?? 0);
      this.events.segment({ file, index, startS: Number(m[2]), endS: Number(m[3]) });
    }
  }

  /**
   * Clocks the pipes: inset tick k (pts k/fps) goes out when the room's
   * picture of pts k/fps is remoteDelayMs.video old, the sound's likewise.
   * Before the encoder has started only a few ticks go out (it needs them to
   * open the pipes); what the pipes carried before the start is timed from the
   * start like the rest (the encoder waits for the pipes, holding the room's
   * side back). A late wake is caught up tick by tick, never skipped: a
   * skipped tick would move every later inset frame a frame earlier.
   */
  private tick(): void {
    if (!this.child) return;
    const now = performance.now();
    const period = 1000 / this.options.fps;
    const delay = this.options.remoteDelayMs ?? DEFAULT_REMOTE_DELAY_MS;
    // Not started after 5 s: go on from spawn (as if it started then) rather than starve it.
    const start = this.mainStart ?? (now - this.t0 > 5000 ? this.t0 : null);
    const dueVideo = start === null ? PRE_START_TICKS : Math.floor((now - start - delay.video) / period) + 1;
    const dueAudio = start === null ? PRE_START_TICKS : Math.floor((now - start - delay.audio) / period) + 1;
    let n = 0;
    while ((this.ticks < dueVideo || this.audioTicks < dueAudio) && n++ < 25) {
      const began = performance.now();
      try {
        if (this.ticks < dueVideo) this.writeInsets(start === null ? now : start + delay.video + this.ticks * period);
        if (this.audioTicks < dueAudio) this.writeSound();
      } finally {
        this.clockMs += performance.now() - began;
      }
    }
    const behind = this.ticks < dueVideo || this.audioTicks < dueAudio;
    const next = start === null ? now + period : Math.min(start + delay.video + this.ticks * period, start + delay.audio + this.audioTicks * period);
    this.timer = setTimeout(() => this.tick(), behind ? 0 : Math.max(1, next - performance.now()));
  }

  /** One tick of every inset: the frame each party's player had delivered by `dueAt` (performance.now). */
  private writeInsets(dueAt: number): void {
    this.ticks++;
    const pipes = this.pipes();
    this.insets.forEach((s, i) => {
      // Written late (a stalled event loop catching up): the frame of the tick's own time.
      let pick: { frame: Buffer; at: number } | null = null;
      for (const r of s.recent) if (r.at <= dueAt) pick = r;
      const shown = pick ?? (s.frame ? { frame: s.frame, at: s.at } : null);
      const fresh = shown && dueAt - shown.at < 1500;
      if (!fresh) this.stalledInsetTicks++;
      const p = pipes[i];
      if (!p || p.destroyed) return;
      const frame = fresh ? shown.frame : this.placeholder;
      if (p.writableLength > this.frameBytes * this.options.fps * 2) {
        // The encoder is far behind (starved of CPU): owe the frame rather than queue without bound.
        this.overruns++;
        this.owed[i]!++;
        return;
      }
      // Owed frames repeat the current one: the pipe's frame count (its pts) stays on the clock.
      for (; this.owed[i]! > 0 && p.writableLength < this.frameBytes * 4; this.owed[i]!--) p.write(frame);
      p.write(frame);
    });
  }

  private writeSound(): void {
    this.audioTicks++;
    const pipes = this.pipes();
    const mix = new Int32Array(this.samplesPerTick * CHANNELS);
    for (const fifo of this.audio.values()) fifo.mixInto(mix);
    const pcm = Buffer.allocUnsafe(mix.length * 2);
    for (let i = 0; i < mix.length; i++) pcm.writeInt16LE(Math.max(-32768, Math.min(32767, mix[i]!)), i * 2);
    const ap = pipes[this.options.slots.length];
    if (ap && !ap.destroyed) ap.write(pcm);
  }

  private stopClock(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Ends the run cleanly: the encoder closes its last segment (reported) and exits. */
  async stop(timeoutMs = 8000): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.stopping = true;
    // The clock stops and the pipes end first: ffmpeg's input threads must not
    // block on a full queue while it finishes (it would never exit).
    this.stopClock();
    for (const p of this.pipes()) p.end();
    this.child?.stdin?.end();
    // One SIGINT: ffmpeg finishes cleanly (its keyboard "q" is off with pipe inputs).
    child.kill('SIGINT');
    const done = this.exitPromise;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    timer.unref();
    await done;
    clearTimeout(timer);
  }

  /** CPU time the encoder has used so far (user + system, seconds), from /proc. */
  cpuSeconds(): number | null {
    return this.child?.pid ? processCpuSeconds(this.child.pid) : null;
  }

  /** Ends at once (agent killed, session gone with a crash): the open segment is what it is. */
  kill(): void {
    this.child?.kill('SIGKILL');
  }

  get isStopping(): boolean {
    return this.stopping;
  }
}

const INSET_MARGIN = 12;

/** Where a slot's inset sits in the picture (pixels): down the right-hand side. */
export function insetRect(o: Pick<CompositorOptions, 'width' | 'insetWidth' | 'insetHeight'>, slot: number): { x: number; y: number; w: number; h: number } {
  return { x: o.width - o.insetWidth - INSET_MARGIN, y: INSET_MARGIN + slot * (o.insetHeight + INSET_MARGIN), w: o.insetWidth, h: o.insetHeight };
}

/** A dark blue frame with a lighter band: "no picture from this party". */
function placeholderFrame(w: number, h: number): Buffer {
  const y = Buffer.alloc(w * h, 40);
  for (let row = Math.floor(h * 0.45); row < Math.floor(h * 0.55); row++) y.fill(70, row * w, (row + 1) * w);
  const u = Buffer.alloc((w * h) / 4, 150);
  const v = Buffer.alloc((w * h) / 4, 118);
  return Buffer.concat([y, u, v]);
}

/** utime + stime of a process in seconds (Linux /proc), or null. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after the name: state is [0]; utime [11], stime [12] (in clock ticks, 100/s on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}
