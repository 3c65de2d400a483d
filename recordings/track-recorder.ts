// One track's original: a PlainTransport consumer of one producer (RTCP on, so
// mediasoup sends sender reports) feeding one ffmpeg that copies the RTP, with
// no transcoding, into WebM segments of a few minutes. Each closed segment is
// hashed and announced; the recording puts it in the booking's hash chain.
//
// A "run" is one ffmpeg process with its own transport and consumer. A run that
// ends by itself (ffmpeg crashed or was killed, or its RTP receiver gave up
// after ~10 s without packets) is replaced within a second or two, and the time
// between is announced as a gap with its cause. While the producer is paused
// nothing is sent, so the run is ended cleanly and the pause is a gap
// ("party absent") until the producer resumes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { types } from 'mediasoup';
import { TypedEmitter } from '../server/events.js';
import type { Logger } from '../server/logger.js';
import type { GapCause } from './gap-cause.js';
import { sha256File } from './recording-store.js';
import { udpPortBound, type RtpPortPool } from './rtp-ports.js';

export interface TrackRecorderOptions {
  ffmpegPath: string;
  /** <dataDir>/recordings/<bookingId> */
  bookingDir: string;
  segmentSeconds: number;
  /** Where mediasoup and ffmpeg meet (loopback on one machine). */
  listenIp: string;
  ports: RtpPortPool;
  restartDelayMs: number;
  log: Logger;
}

export interface ClosedSegment {
  /** Relative to the booking's recording directory. */
  path: string;
  startedAt: string;
  endedAt: string;
  bytes: number;
  sha256: string;
  container: 'webm';
  codec: string;
  /** The run ended abruptly and the file has no proper end (still playable up to where it stops). */
  partial: boolean;
}

export type TrackRecorderEvents = {
  segment: [ClosedSegment];
  /** The track stopped being recorded (a gap starts at `at`). */
  'gap-opened': [{ cause: GapCause; at: string }];
  /** The track is being written again. */
  'gap-closed': [{ at: string }];
  /** A run wrote its first media (at = the wall time of its first packet). */
  writing: [{ at: string }];
  closed: [];
};

interface Run {
  child: ChildProcess;
  port: number;
  transport: types.PlainTransport;
  consumer: types.Consumer;
  sdpFile: string;
  prefix: string;
  startedAtMs: number;
  /** Wall time (ms) of the output's time zero, estimated from progress reports. */
  t0: number | null;
  lastWriteMs: number | null;
  reported: Set<string>;
  lastEndS: number;
  stopRequested: boolean;
  exited: Promise<void>;
  keyFrameTimer: NodeJS.Timeout | null;
}

/** Seconds without packets after which ffmpeg's RTP receiver ends. */
const RECEIVE_TIMEOUT_S = 2;

const iso = (ms: number) => new Date(ms).toISOString();
const stampOf = (ms: number) => iso(ms).replace(/[-:]/g, '').replace('.', '');

export class TrackRecorder extends TypedEmitter<TrackRecorderEvents> {
  private run: Run | null = null;
  private closing = false;
  private closedFlag = false;
  private gapOpen = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private work: Promise<void> = Promise.resolve();
  private readonly codec: string;
  private readonly dirRel: string;
  private readonly onPause = () => this.paused();
  private readonly onResume = () => this.resumed();
  private readonly onProducerClose = () => void this.close();
  runs = 0;

  constructor(
    readonly track: string,
    readonly partyId: string,
    readonly producer: types.Producer,
    private readonly router: types.Router,
    private readonly o: TrackRecorderOptions
  ) {
    super();
    const mime = producer.rtpParameters.codecs[0]?.mimeType ?? '';
    this.codec = (mime.split('/')[1] ?? 'unknown').toLowerCase();
    this.dirRel = `originals/${track}`;
    producer.observer.on('pause', this.onPause);
    producer.observer.on('resume', this.onResume);
    producer.observer.once('close', this.onProducerClose);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** The pid of the running ffmpeg, if one runs. */
  get pid(): number | null {
    return this.run?.child.pid ?? null;
  }

  /** The running consumer (mediasoup's side of the current run), for statistics. */
  get consumer(): types.Consumer | null {
    return this.run?.consumer ?? null;
  }

  /** The UDP port (RTP; RTCP is the next one) the current run's ffmpeg receives on. */
  get port(): number | null {
    return this.run?.port ?? null;
  }

  get recording(): boolean {
    return this.run !== null && this.run.lastWriteMs !== null;
  }

  start(): void {
    if (this.producer.paused) {
      this.openGap('party_absent', Date.now());
      return;
    }
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.closing || this.restartTimer || this.run) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.closing || this.run || this.producer.paused || this.producer.closed) return;
      this.startRun().catch((err: unknown) => {
        this.o.log.error({ err, track: this.track }, 'recorder run could not start');
        this.failures++;
        this.schedule(this.backoff());
      });
    }, delayMs);
  }

  private backoff(): number {
    return Math.min(5000, this.o.restartDelayMs * 2 ** Math.min(this.failures, 4));
  }

  private async startRun(): Promise<void> {
    const port = await this.o.ports.acquire();
    let transport: types.PlainTransport | null = null;
    try {
      transport = await this.router.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: this.o.listenIp },
        rtcpMux: false,
        comedia: false,
        appData: { recorder: true, track: this.track },
      });
      await transport.connect({ ip: this.o.listenIp, port, rtcpPort: port + 1 });
      const consumer = await transport.consume({
        producerId: this.producer.id,
        rtpCapabilities: this.captureCapabilities(),
        paused: true,
        appData: { recorder: true, track: this.track, partyId: this.partyId },
      });
      if (this.closing || this.producer.closed) {
        transport.close();
        this.o.ports.release(port);
        return;
      }
      const now = Date.now();
      const prefix = stampOf(now);
      const dir = path.join(this.o.bookingDir, ...this.dirRel.split('/'));
      const work = path.join(this.o.bookingDir, '.recorder');
      mkdirSync(dir, { recursive: true });
      mkdirSync(work, { recursive: true });
      const sdpFile = path.join(work, `${this.track}-${prefix}.sdp`);
      writeFileSync(sdpFile, this.sdp(consumer, port));
      const child = spawn(
        this.o.ffmpegPath,
        [
          '-hide_banner', '-nostdin', '-loglevel', 'warning',
          '-protocol_whitelist', 'file,udp,rtp',
          // Without packets for this long the receiver ends (default 10 s): a stop never waits longer.
          '-listen_timeout', String(RECEIVE_TIMEOUT_S),
          // Probing needs the first key frame (VP8 picture size); what arrives meanwhile is buffered, not lost.
          '-analyzeduration', '10000000', '-probesize', '20000000',
          '-i', sdpFile,
          '-map', '0', '-c', 'copy',
          '-f', 'segment', '-segment_time', String(this.o.segmentSeconds), '-segment_format', 'webm', '-reset_timestamps', '1',
          '-segment_list', 'pipe:1', '-segment_list_type', 'csv',
          '-progress', 'pipe:3', '-stats_period', '0.5',
          path.join(dir, `${prefix}-%03d.webm`),
        ],
        { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] }
      );
      let resolveExit: () => void = () => undefined;
      const run: Run = {
        child, port, transport, consumer, sdpFile, prefix, startedAtMs: now, t0: null, lastWriteMs: null,
        reported: new Set(), lastEndS: 0, stopRequested: false, exited: new Promise((r) => (resolveExit = r)), keyFrameTimer: null,
      };
      this.run = run;
      this.runs++;
      let stderrTail = '';
      child.stderr?.on('data', (d: Buffer) => (stderrTail = (stderrTail + d.toString()).slice(-2000)));
      this.readLines(child.stdout, (line) => this.onListLine(run, line));
      const progress = child.stdio[3];
      if (progress && 'on' in progress) {
        let block: Record<string, string> = {};
        this.readLines(progress as NodeJS.ReadableStream, (line) => {
          const eq = line.indexOf('=');
          if (eq < 0) return;
          const k = line.slice(0, eq);
          const v = line.slice(eq + 1);
          if (k === 'progress') {
            this.onProgress(run, block);
            block = {};
          } else if (k === 'out_time_us' || k === 'total_size') block[k] = v;
        });
      }
      child.once('error', (err) => this.o.log.error({ err, track: this.track }, 'recorder ffmpeg could not run'));
      child.once('close', (code, signal) => {
        void this.runEnded(run, code, signal, stderrTail).finally(resolveExit);
      });
      // Send only once ffmpeg listens, so the first key frame is not lost.
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline && udpPortBound(port) === false && child.exitCode === null) await new Promise((r) => setTimeout(r, 30));
      if (udpPortBound(port) === null) await new Promise((r) => setTimeout(r, 300));
      if (this.run !== run || run.stopRequested) return;
      await consumer.resume();
      if (consumer.kind === 'video') {
        await consumer.requestKeyFrame();
        // The segmenter cuts at key frames: ask for some (browsers send them only when asked).
        const ask = () => void (consumer.closed ? undefined : consumer.requestKeyFrame().catch(() => undefined));
        setTimeout(ask, 700).unref();
        setTimeout(ask, 1500).unref();
        run.keyFrameTimer = setInterval(ask, Math.max(1000, (this.o.segmentSeconds * 1000) / 4));
      }
    } catch (err) {
      if (!this.run || this.run.transport !== transport) {
        transport?.close();
        this.o.ports.release(port);
      }
      throw err;
    }
  }

  /** The router's capabilities for this kind's codec only: no RTX, which the recording cannot use. */
  private captureCapabilities(): types.RtpCapabilities {
    const caps = this.router.rtpCapabilities;
    return {
      codecs: (caps.codecs ?? []).filter((c) => c.kind === this.producer.kind && !c.mimeType.toLowerCase().endsWith('/rtx')).map((c) => ({ ...c, rtcpFeedback: (c.rtcpFeedback ?? []).filter((f) => f.type === 'nack' && f.parameter === 'pli') })),
      headerExtensions: [],
    };
  }

  private sdp(consumer: types.Consumer, port: number): string {
    const codec = consumer.rtpParameters.codecs[0];
    if (!codec) throw new Error('recorder consumer has no codec');
    const name = codec.mimeType.split('/')[1] ?? '';
    const channels = codec.channels && codec.channels > 1 ? `/${codec.channels}` : '';
    return [
      'v=0',
      `o=- 0 0 IN IP4 ${this.o.listenIp}`,
      `s=plea recording ${this.track}`,
      `c=IN IP4 ${this.o.listenIp}`,
      't=0 0',
      `m=${consumer.kind} ${port} RTP/AVP ${codec.payloadType}`,
      `a=rtcp:${port + 1}`,
      `a=rtpmap:${codec.payloadType} ${name}/${codec.clockRate}${channels}`,
      'a=recvonly',
      '',
    ].join('\r\n');
  }

  private readLines(stream: NodeJS.ReadableStream | null | undefined, onLine: (line: string) => void): void {
    if (!stream) return;
    let buf = '';
    stream.on('data', (d: Buffer | string) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) onLine(line);
      }
    });
  }

  private onProgress(run: Run, block: Record<string, string>): void {
    const us = Number(block['out_time_us']);
    if (!Number.isFinite(us) || us <= 0) return;
    const now = Date.now();
    const t0 = now - us / 1000;
    // Delays only add, so the smallest estimate is the closest.
    run.t0 = run.t0 === null ? t0 : Math.min(run.t0, t0);
    const first = run.lastWriteMs === null;
    run.lastWriteMs = now;
    if (first) {
      this.failures = 0;
      this.emit('writing', { at: iso(run.t0) });
      if (this.gapOpen) {
        this.gapOpen = false;
        this.emit('gap-closed', { at: iso(run.t0) });
      }
    }
  }

  private onListLine(run: Run, line: string): void {
    // "name,start,end" (seconds of the run's output time).
    const m = /^(.*),(-?[\d.]+),(-?[\d.]+)$/.exec(line);
    if (!m) return;
    const name = path.basename(m[1] ?? '');
    const start = Number(m[2]);
    const end = Number(m[3]);
    run.reported.add(name);
    run.lastEndS = Math.max(run.lastEndS, end);
    const t0 = run.t0 ?? Date.now() - end * 1000;
    this.enqueueSegment(name, t0 + start * 1000, t0 + end * 1000, false);
  }

  private enqueueSegment(name: string, startMs: number, endMs: number, partial: boolean): void {
    const rel = `${this.dirRel}/${name}`;
    const file = path.join(this.o.bookingDir, ...rel.split('/'));
    this.work = this.work.then(async () => {
      try {
        const bytes = statSync(file).size;
        const sha256 = await sha256File(file);
        this.emit('segment', {
          path: rel, startedAt: iso(startMs), endedAt: iso(Math.max(startMs, endMs)), bytes, sha256, container: 'webm', codec: this.codec, partial,
        });
      } catch (err) {
        this.o.log.error({ err, file }, 'cannot hash a closed recording segment');
      }
    });
  }

  private async runEnded(run: Run, code: number | null, signal: NodeJS.Signals | null, stderrTail: string): Promise<void> {
    const endMs = Date.now();
    if (run.keyFrameTimer) clearInterval(run.keyFrameTimer);
    run.transport.close();
    this.o.ports.release(run.port);
    rmSync(run.sdpFile, { force: true });
    // Files the run wrote that never made the list: the segment being written when it stopped.
    const dir = path.join(this.o.bookingDir, ...this.dirRel.split('/'));
    let left: string[] = [];
    try {
      left = readdirSync(dir).filter((f) => f.startsWith(`${run.prefix}-`) && f.endsWith('.webm') && !run.reported.has(f)).sort();
    } catch {
      left = [];
    }
    for (const f of left) {
      const size = statSync(path.join(dir, f)).size;
      if (size === 0) {
        rmSync(path.join(dir, f), { force: true });
        continue;
      }
      const t0 = run.t0 ?? run.startedAtMs;
      this.enqueueSegment(f, t0 + run.lastEndS * 1000, run.lastWriteMs ?? endMs, !run.stopRequested || signal !== null);
    }
    await this.work;
    if (this.run === run) this.run = null;
    if (run.stopRequested || this.closing) return;
    // Not asked to stop: ffmpeg crashed or was killed, or had no packets for a while.
    const cause: GapCause = code === 0 && signal === null ? 'party_absent' : 'recorder_crashed';
    this.o.log.warn({ track: this.track, code, signal, stderr: stderrTail.slice(-400) }, 'recorder ffmpeg ended by itself; restarting');
    if (run.lastWriteMs === null) this.failures++;
    this.openGap(cause, run.lastWriteMs ?? endMs);
    this.schedule(run.lastWriteMs === null ? this.backoff() : this.o.restartDelayMs);
  }

  private openGap(cause: GapCause, atMs: number): void {
    if (this.gapOpen) return;
    this.gapOpen = true;
    this.emit('gap-opened', { cause, at: iso(atMs) });
  }

  private async stopRun(): Promise<void> {
    const run = this.run;
    if (!run) return;
    run.stopRequested = true;
    if (run.child.exitCode === null && run.child.signalCode === null) {
      // SIGINT ends ffmpeg at its next packet, or when its receiver gives up waiting for packets no
      // longer coming (-listen_timeout); either way it writes the segment's end. (A second SIGINT
      // would also interrupt the writing of that end.)
      run.child.kill('SIGINT');
      const killer = setTimeout(() => run.child.kill('SIGKILL'), 10_000);
      await run.exited;
      clearTimeout(killer);
    } else {
      await run.exited;
    }
  }

  private paused(): void {
    if (this.closing) return;
    const at = this.run?.lastWriteMs ?? Date.now();
    this.openGap('party_absent', at);
    void this.stopRun();
  }

  private resumed(): void {
    if (this.closing) return;
    this.schedule(0);
  }

  /** Ends the track's recording cleanly: the last segment is closed, hashed and announced first. */
  async close(): Promise<void> {
    if (this.closing) {
      while (!this.closedFlag) await new Promise((r) => setTimeout(r, 20));
      return;
    }
    this.closing = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.producer.observer.off('pause', this.onPause);
    this.producer.observer.off('resume', this.onResume);
    this.producer.observer.off('close', this.onProducerClose);
    await this.stopRun();
    await this.work;
    this.closedFlag = true;
    this.emit('closed');
  }
}
