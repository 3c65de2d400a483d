// Receives one consumer of another party over RTP (a mediasoup PlainTransport
// sends to our port; RTCP to port+1) and plays it: on a room PC to the screen
// and speakers (ffplay), in tests to a file or a null sink. Counts the frames
// ffmpeg decodes, from its -progress output.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { PlainConsumerInfo } from '../server/signalling/protocol.js';
import type { ChildReaper } from './child-reaper.js';

export type Sink = { kind: 'null' } | { kind: 'file'; dir: string } | { kind: 'play'; ffplay: string };

/** A second output of the player's ffmpeg on pipe:3 (the evidence compositor's decoded frames or PCM). */
export interface PlayerTap {
  /** ffmpeg output options ending in 'pipe:3'. */
  outputArgs: string[];
  onData(chunk: Buffer): void;
}

/** Finds a free even/odd UDP port pair on the address (RTP, RTCP). */
export async function freePortPair(ip: string, min = 20000, max = 29998): Promise<[number, number]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = min + 2 * Math.floor((Math.random() * (max - min)) / 2);
    const ok = await Promise.all([port, port + 1].map((p) => canBind(ip, p)));
    if (ok.every(Boolean)) return [port, port + 1];
  }
  throw new Error('no free UDP port pair for a player');
}

function canBind(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, ip, () => s.close(() => resolve(true)));
  });
}

export function sdpFor(info: PlainConsumerInfo, ip: string, port: number, rtcpPort: number): string {
  const codec = info.rtpParameters.codecs[0];
  if (!codec) throw new Error('consumer has no codec');
  const name = codec.mimeType.split('/')[1] ?? '';
  const ch = (codec as Record<string, unknown>)['channels'];
  const channels = typeof ch === 'number' && ch > 1 ? `/${ch}` : '';
  return [
    'v=0',
    `o=- 0 0 IN IP4 ${ip}`,
    's=plea room agent player',
    `c=IN IP4 ${ip}`,
    't=0 0',
    `m=${info.kind} ${port} RTP/AVP ${codec.payloadType}`,
    `a=rtcp:${rtcpPort}`,
    `a=rtpmap:${codec.payloadType} ${name}/${codec.clockRate}${channels}`,
    'a=recvonly',
    '',
  ].join('\r\n');
}

/**
 * A server-supplied id used in a file name: only letters, digits and dashes
 * (mediasoup ids are UUIDs), never a path of the server's choosing.
 */
export function safeFileId(value: string, what: string): string {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(value)) throw new Error(`refusing a ${what} from the server that is not a plain id: ${JSON.stringify(value.slice(0, 80))}`);
  return value;
}

export class Player {
  private child: ChildProcess | null = null;
  private stopped = false;
  framesDecoded = 0;
  restarts = 0;

  constructor(
    private readonly ffmpegPath: string,
    readonly info: PlainConsumerInfo,
    private readonly ip: string,
    readonly port: number,
    readonly rtcpPort: number,
    private readonly sink: Sink,
    private readonly workDir: string,
    private readonly children?: ChildReaper,
    private readonly tap?: PlayerTap
  ) {}

  start(): void {
    mkdirSync(this.workDir, { recursive: true });
    const sdpFile = path.join(this.workDir, `${safeFileId(this.info.consumerId, 'consumer id')}.sdp`);
    writeFileSync(sdpFile, sdpFor(this.info, this.ip, this.port, this.rtcpPort));
    this.stopped = false;
    this.spawn(sdpFile);
  }

  private spawn(sdpFile: string): void {
    const input = ['-hide_banner', '-loglevel', 'error', '-protocol_whitelist', 'file,udp,rtp', '-reorder_queue_size', '64', '-i', sdpFile];
    let cmd = this.ffmpegPath;
    let args: string[];
    if (this.sink.kind === 'play' && this.tap) {
      // One receiver for both: the tap, and the screen or speakers through ffmpeg's own devices.
      args = [...input, ...this.tap.outputArgs, ...(this.info.kind === 'video' ? ['-f', 'sdl2', this.info.role] : ['-f', 'pulse', this.info.role])];
    } else if (this.sink.kind === 'play') {
      cmd = this.sink.ffplay;
      args = ['-hide_banner', '-loglevel', 'error', '-protocol_whitelist', 'file,udp,rtp', '-fflags', 'nobuffer', '-window_title', `${this.info.role}`, sdpFile];
    } else if (this.sink.kind === 'file') {
      const out = path.join(this.sink.dir, `${safeFileId(this.info.role, 'role')}-${safeFileId(this.info.kind, 'kind')}-${safeFileId(this.info.consumerId, 'consumer id')}.mkv`);
      args = [...input, '-progress', 'pipe:1', '-nostats', '-c', 'copy', '-y', out];
    } else {
      args = [...input, '-progress', 'pipe:1', '-nostats', '-f', 'null', '-'];
    }
    if (this.tap && this.sink.kind !== 'play') args = [...input, ...this.tap.outputArgs, ...args.slice(input.length)];
    const child = spawn(cmd, args, { stdio: this.tap ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'] });
    const tap = this.tap;
    if (tap) (child.stdio[3] as NodeJS.ReadableStream | null)?.on('data', (d: Buffer) => tap.onData(d));
    this.child = child;
    this.children?.add(child.pid);
    child.stdout?.on('data', (d: Buffer) => {
      for (const m of d.toString().matchAll(/^frame=(\d+)/gm)) this.framesDecoded = Math.max(this.framesDecoded, Number(m[1]));
    });
    child.stderr?.on('data', () => undefined);
    child.on('close', () => {
      this.children?.remove(child.pid);
      if (this.child !== child) return;
      this.child = null;
      // ffmpeg's RTP input exits about 10 s after its last packet: while the
      // consumer lives (e.g. the other party paused), listen again.
      if (!this.stopped) {
        this.restarts++;
        setTimeout(() => !this.stopped && this.spawn(sdpFile), 500).unref();
      }
    });
  }

  get running(): boolean {
    return this.child !== null;
  }

  stop(): void {
    this.stopped = true;
    this.child?.kill('SIGKILL');
    this.child = null;
  }
}
