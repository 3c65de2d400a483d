// Receives one consumer of another party over SRTP (or plain RTP where the
// site switched SRTP off): a mediasoup PlainTransport sends to the port pair of
// its MediaGate, which passes only the server's datagrams on to this ffmpeg.
// Plays it on a room PC to the screen and speakers (ffplay), in tests to a file
// or a null sink, and hands decoded frames to the evidence compositor (the tap).
// Counts the frames ffmpeg decodes, from its -progress output.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { SRTP_SUITE, type PlainConsumerInfo } from '../server/signalling/protocol.js';
import type { ChildReaper } from './child-reaper.js';
import type { MediaGate } from './media-gate.js';

export type Sink = { kind: 'null' } | { kind: 'file'; dir: string } | { kind: 'play'; ffplay: string };

/** A second output of the player's ffmpeg on pipe:3 (the evidence compositor's decoded frames or PCM). */
export interface PlayerTap {
  /** ffmpeg output options ending in 'pipe:3'. */
  outputArgs: string[];
  onData(chunk: Buffer): void;
}

export { freePortPair } from './ports.js';

/**
 * The player's SDP: the codec, the loopback port its gate forwards to, loopback
 * as the only source admitted, and with SRTP the server's key (RFC 4568
 * a=crypto, which ffmpeg's SDP input decrypts and authenticates with). It holds
 * a secret, so it goes to ffmpeg on its stdin, never into a file.
 */
export function sdpFor(info: PlainConsumerInfo, innerPort: number): string {
  const codec = info.rtpParameters.codecs[0];
  if (!codec) throw new Error('consumer has no codec');
  const name = codec.mimeType.split('/')[1] ?? '';
  if (!/^[A-Za-z0-9-]{1,32}$/.test(name)) throw new Error(`refusing a codec name from the server that is not a plain name: ${JSON.stringify(name.slice(0, 40))}`);
  const ch = (codec as Record<string, unknown>)['channels'];
  const channels = typeof ch === 'number' && ch > 1 ? `/${ch}` : '';
  if (info.srtpKey !== undefined && !/^[A-Za-z0-9+/]{40}$/.test(info.srtpKey)) throw new Error('refusing an SRTP key from the server that is not 30 bytes of base64');
  return [
    'v=0',
    'o=- 0 0 IN IP4 127.0.0.1',
    's=plea room agent player',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=${info.kind} ${innerPort} RTP/AVP ${codec.payloadType}`,
    'a=source-filter: incl IN IP4 * 127.0.0.1',
    `a=rtpmap:${codec.payloadType} ${name}/${codec.clockRate}${channels}`,
    ...(info.srtpKey ? [`a=crypto:1 ${SRTP_SUITE} inline:${info.srtpKey}`] : []),
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
    /** Its receiving ports: only the server's datagrams come through to ffmpeg. */
    readonly gate: MediaGate,
    private readonly sink: Sink,
    private readonly children?: ChildReaper,
    private readonly tap?: PlayerTap,
    /**
     * With SRTP, an ffmpeg that exited is not started again on the same key: a
     * new one would assume the SRTP rollover counter is 0, and once the server's
     * stream passed 65536 packets it could decrypt nothing. The agent consumes
     * the producer afresh instead (a new transport and key); this is called.
     */
    private readonly onSrtpExit?: () => void
  ) {}

  get port(): number {
    return this.gate.port;
  }

  /** The running ffmpeg's pid. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const sdp = sdpFor(this.info, this.gate.innerPort);
    // Only the server's address and ports, from now on.
    this.gate.admit({ ip: this.info.sourceIp, port: this.info.sourcePort, rtcpPort: this.info.sourceRtcpPort });
    this.stopped = false;
    this.spawn(sdp);
  }

  private spawn(sdp: string): void {
    const input = ['-hide_banner', '-loglevel', 'error', '-protocol_whitelist', 'pipe,udp,rtp,srtp', '-reorder_queue_size', '64', '-f', 'sdp', '-i', 'pipe:0'];
    let cmd = this.ffmpegPath;
    let args: string[];
    if (this.sink.kind === 'play' && this.tap) {
      // One receiver for both: the tap, and the screen or speakers through ffmpeg's own devices.
      args = [...input, ...this.tap.outputArgs, ...(this.info.kind === 'video' ? ['-f', 'sdl2', this.info.role] : ['-f', 'pulse', this.info.role])];
    } else if (this.sink.kind === 'play') {
      cmd = this.sink.ffplay;
      args = ['-hide_banner', '-loglevel', 'error', '-protocol_whitelist', 'pipe,udp,rtp,srtp', '-fflags', 'nobuffer', '-window_title', `${this.info.role}`, '-f', 'sdp', '-i', 'pipe:0'];
    } else if (this.sink.kind === 'file') {
      const out = path.join(this.sink.dir, `${safeFileId(this.info.role, 'role')}-${safeFileId(this.info.kind, 'kind')}-${safeFileId(this.info.consumerId, 'consumer id')}.mkv`);
      args = [...input, '-progress', 'pipe:1', '-nostats', '-c', 'copy', '-y', out];
    } else {
      args = [...input, '-progress', 'pipe:1', '-nostats', '-f', 'null', '-'];
    }
    if (this.tap && this.sink.kind !== 'play') args = [...input, ...this.tap.outputArgs, ...args.slice(input.length)];
    const child = spawn(cmd, args, { stdio: this.tap ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'] });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(sdp);
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
        if (this.info.srtpKey !== undefined && this.onSrtpExit) {
          this.stop();
          this.onSrtpExit();
          return;
        }
        setTimeout(() => !this.stopped && this.spawn(sdp), 500).unref();
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
    this.gate.close();
  }
}
