// The room agent: the room PC's side of a session. Connects to the server,
// reports health every few seconds, publishes the room's camera and microphone
// over SRTP when the room's session is open, plays the other parties (SRTP,
// from the server's address only), and
// reconnects and republishes by itself after a server restart or network drop.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { io, type Socket } from 'socket.io-client';
import type {
  Ack,
  ClientEventName,
  ClientPayload,
  ClientReply,
  ClientToServerEvents,
  HealthReport,
  PlainConsumerInfo,
  PlainPublishTarget,
  ProducerView,
  Reply,
  ServerToClientEvents,
} from '../server/signalling/protocol.js';
import { Publisher, publishTracks, type CaptureSource, type DeviceCapture } from './publisher.js';
import { CaptureTap } from './capture-tap.js';
import { Player, type Sink } from './player.js';
import { freePortPair } from './ports.js';
import { MediaGate } from './media-gate.js';
import { ensureSyntheticClip } from './synthetic-clip.js';
import { ChildReaper } from './child-reaper.js';
import { ensureBeepFlashClip } from './beep-flash-clip.js';
import { EvidenceRecorder, clockOffsetMs, type EvidenceCapture } from './evidence/evidence-recorder.js';

export interface AgentOptions {
  serverUrl: string;
  roomId: string;
  roomName: string;
  credential: string;
  ffmpegPath: string;
  /** Where clips and SDP files go. */
  workDir: string;
  /** Synthetic: the looped test clip, or the beep-and-flash pattern (for A/V sync measurement). */
  capture: { kind: 'synthetic'; pattern?: 'clip' | 'beep-flash' } | DeviceCapture;
  sink: Sink;
  /** Whether to receive the other parties (a room PC does; a load generator may not). */
  play: boolean;
  /** The address the server sends our players' RTP to (this host as the server sees it). */
  mediaIp: string;
  healthIntervalMs: number;
  /**
   * Media to and from the room is SRTP; true sends and receives plain RTP
   * instead (an explicit switch of the site's, warned about at start; the
   * server must allow it too).
   */
  plainRtp?: boolean;
  log?: (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;
  /** Render the evidence video of booking sessions live and upload its segments (a room PC does). */
  evidence?: { segmentSeconds?: number; width?: number; height?: number };
  /**
   * The room PC's own clock (epoch ms; default Date.now). It may be wrong: the
   * evidence video burns in the server's session clock, taken as this clock
   * plus the offset measured at the join (the server's time in the reply).
   */
  roomClock?: () => number;
}

export type AgentState = 'connecting' | 'idle' | 'joining' | 'live' | 'stopped';

export class RoomAgent {
  private socket: Socket<ServerToClientEvents, ClientToServerEvents> | null = null;
  private publisher: Publisher | null = null;
  private readonly players = new Map<string, Player>(); // by producerId
  private sessionId: string | null = null;
  private partyId: string | null = null;
  private generation = 0; // bumps on every (dis)connect/session change: stale async steps stop
  private healthTimer: NodeJS.Timeout | null = null;
  private readonly startedAt = Date.now();
  private queue: Promise<void> = Promise.resolve();
  private publisherRestarts = 0;
  private reconnects = 0;
  private connectedOnce = false;
  private rttMs: number | null = null;
  private clip: string | null = null;
  private children: ChildReaper | undefined;
  /** With devices and an evidence video: the publisher's capture, shared with the compositor. */
  readonly captureTap: CaptureTap | null;
  /** The live evidence video and its uploads (when options.evidence). */
  evidence: EvidenceRecorder | null = null;
  state: AgentState = 'connecting';
  /** Counts completed joins (publish done): tests and health read it. */
  joins = 0;

  constructor(private readonly options: AgentOptions) {
    this.captureTap = options.capture.kind === 'devices' && options.evidence ? new CaptureTap() : null;
  }

  /** The running publisher ffmpeg's pid. */
  get publisherPid(): number | undefined {
    return this.publisher?.pid;
  }

  private log(level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>): void {
    this.options.log?.(level, msg, { roomId: this.options.roomId, ...extra });
  }

  start(): void {
    if (this.options.plainRtp) this.log('warn', 'plain RTP is switched on: the room\'s media goes unencrypted over the network');
    this.children = new ChildReaper(this.options.workDir, this.options.roomId);
    const reaped = this.children.reapLeftovers();
    if (reaped) this.log('warn', `ended ${reaped} media processes left by a previous run`);
    if (this.options.evidence) {
      this.evidence = new EvidenceRecorder({
        ffmpegPath: this.options.ffmpegPath,
        serverUrl: this.options.serverUrl,
        roomId: this.options.roomId,
        credential: this.options.credential,
        workDir: this.options.workDir,
        ...this.options.evidence,
        ...(this.options.roomClock ? { roomClock: this.options.roomClock } : {}),
        children: this.children,
        log: (level, msg, extra) => this.log(level, msg, extra),
      });
      this.evidence.start();
    }
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(this.options.serverUrl, {
      auth: { kind: 'agent', roomId: this.options.roomId, credential: this.options.credential },
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 3000,
      randomizationFactor: 0.3,
      timeout: 5000,
    });
    this.socket = socket;
    socket.on('connect', () => {
      if (this.connectedOnce) this.reconnects++;
      this.connectedOnce = true;
      this.log('info', 'connected to server');
    });
    socket.on('connect_error', (err) => {
      this.log('warn', `cannot connect: ${err.message}`);
      // A handshake the server refused (e.g. its stale connection of this room is not
      // yet timed out) is not retried by socket.io itself: try again shortly.
      if (!socket.active && this.state !== 'stopped') {
        setTimeout(() => {
          if (this.state !== 'stopped' && !socket.connected && !socket.active) socket.connect();
        }, 2000);
      }
    });
    socket.on('disconnect', (reason) => {
      this.log('warn', `disconnected: ${reason}`);
      this.generation++;
      this.enqueue(async () => this.stopMedia('disconnected'));
      if (this.state === 'stopped') return;
      this.state = 'connecting';
      // A server-side disconnect is not retried by socket.io itself.
      if (reason === 'io server disconnect') socket.connect();
    });
    socket.on('agent:session', ({ sessionId }) => {
      this.generation++;
      const gen = this.generation;
      this.enqueue(async () => {
        await this.stopMedia('session changed');
        if (sessionId && gen === this.generation) await this.joinWithRetry(gen);
      });
    });
    socket.on('producer:added', (p) => {
      const gen = this.generation;
      this.enqueue(async () => {
        if (gen === this.generation) await this.consume(p, gen);
      });
    });
    socket.on('producer:removed', ({ producerId }) => this.stopPlayer(producerId));
    // Only the player of that consumer: the producer may already be consumed afresh (see resubscribe).
    socket.on('consumer:closed', ({ consumerId, producerId }) => {
      if (this.players.get(producerId)?.info.consumerId === consumerId) this.stopPlayer(producerId);
    });
    socket.on('session:closed', () => {
      this.generation++;
      this.enqueue(async () => this.stopMedia('session closed'));
    });
    this.healthTimer = setInterval(() => void this.reportHealth(), this.options.healthIntervalMs);
    this.healthTimer.unref();
  }

  private enqueue(step: () => Promise<void>): void {
    this.queue = this.queue.then(step).catch((err: unknown) => this.log('error', `agent step failed: ${(err as Error).message}`));
  }

  private request<E extends ClientEventName>(event: E, payload: ClientPayload<E>, timeoutMs = 10_000): Promise<ClientReply<E>> {
    const socket = this.socket;
    if (!socket?.connected) return Promise.reject(new Error('not connected'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${event}: no reply`)), timeoutMs);
      const ack: Ack<ClientReply<E>> = (reply: Reply<ClientReply<E>>) => {
        clearTimeout(timer);
        if (reply.ok) resolve(reply.data);
        else reject(new Error(`${event}: ${reply.error.code}: ${reply.error.message}`));
      };
      (socket.emit as unknown as (ev: string, p: unknown, a: unknown) => void)(event, payload, ack);
    });
  }

  private async captureSource(): Promise<CaptureSource> {
    const c = this.options.capture;
    if (c.kind === 'devices') return c;
    if (c.pattern === 'beep-flash') {
      this.clip ??= await ensureBeepFlashClip(this.options.ffmpegPath, path.join(this.options.workDir, 'clips'), { roomId: this.options.roomId, roomName: this.options.roomName });
      return { kind: 'synthetic', clip: this.clip };
    }
    this.clip ??= await ensureSyntheticClip(this.options.ffmpegPath, path.join(this.options.workDir, 'clips'), {
      roomId: this.options.roomId,
      roomName: this.options.roomName,
    });
    return { kind: 'synthetic', clip: this.clip };
  }

  /** Joins and publishes; on failure leaves what was half done and tries again, until the session changes. */
  private async joinWithRetry(gen: number, attempt = 1): Promise<void> {
    try {
      await this.joinSession(gen);
    } catch (err) {
      if (gen !== this.generation) return;
      this.log('warn', `joining the session failed (attempt ${attempt}): ${(err as Error).message}`);
      await this.stopMedia('join failed');
      await this.request('session:leave', {}).catch(() => undefined);
      const delay = Math.min(10_000, 1000 * attempt);
      setTimeout(() => {
        if (gen === this.generation) this.enqueue(async () => this.joinWithRetry(gen, attempt + 1));
      }, delay).unref();
    }
  }

  private async joinSession(gen: number): Promise<void> {
    this.state = 'joining';
    const source = await this.captureSource();
    const roomClock = this.options.roomClock ?? Date.now;
    const sentAt = roomClock();
    const joined = await this.request('agent:join', {});
    const clockOffset = clockOffsetMs(joined.clock, sentAt, roomClock());
    if (gen !== this.generation) return;
    this.sessionId = joined.session.sessionId;
    this.partyId = joined.partyId;
    await this.publish(gen, source);
    if (gen !== this.generation) return;
    this.evidence?.begin(joined.evidence, joined.clock, clockOffset, this.evidenceCapture(source));
    this.state = 'live';
    this.joins++;
    this.log('info', 'publishing', { sessionId: this.sessionId });
    for (const p of joined.session.producers) {
      await this.consume(p, gen).catch((err: unknown) => this.log('warn', `cannot play ${p.role} ${p.kind}: ${(err as Error).message}`));
    }
  }

  /**
   * Publishes the camera and microphone: fresh source ports and, with SRTP, a
   * fresh key per track. A publisher that exits is published again the same way
   * (its old producers closed first): a restarted ffmpeg begins its SRTP packet
   * index at zero, and reusing the key would reuse its keystream (and the
   * server's replay check would drop the new packets anyway).
   */
  private async publish(gen: number, source: CaptureSource, previous?: PlainPublishTarget[]): Promise<void> {
    for (const t of previous ?? []) await this.request('producer:close', { producerId: t.producerId }).catch(() => undefined);
    if (gen !== this.generation) return;
    const tracks = [];
    const taken = new Set<number>();
    for (const t of publishTracks(hashSeed(`${this.options.roomId}:${Date.now()}`))) {
      let pair = await freePortPair('0.0.0.0', 30000, 39998);
      while (taken.has(pair[0])) pair = await freePortPair('0.0.0.0', 30000, 39998);
      taken.add(pair[0]);
      tracks.push({ ...t, sourcePort: pair[0], sourceRtcpPort: pair[1], ...(this.options.plainRtp ? {} : { srtpKey: newSrtpKey() }) });
    }
    const { targets } = await this.request('agent:publish', { tracks });
    if (gen !== this.generation) return;
    const publisher = new Publisher(this.options.ffmpegPath, source, tracks, {
      onExit: (code, detail) => {
        if (gen !== this.generation || this.publisher !== publisher) return;
        this.publisherRestarts++;
        this.log('warn', `publisher ffmpeg exited (${code}); publishing again`, { detail });
        setTimeout(() => {
          if (gen !== this.generation || this.publisher !== publisher) return;
          this.enqueue(async () => {
            if (gen !== this.generation || this.publisher !== publisher) return;
            await this.publish(gen, source, targets).catch((err: unknown) => {
              this.log('warn', `publishing again failed: ${(err as Error).message}`);
              // Leave and join afresh: the session event loop takes it from there.
              if (gen === this.generation) this.enqueue(async () => this.rejoin(gen));
            });
          });
        }, 1000).unref();
      },
    }, this.children, this.captureTap ?? undefined);
    this.publisher = publisher;
    publisher.start(targets);
  }

  private async rejoin(gen: number): Promise<void> {
    if (gen !== this.generation) return;
    await this.stopMedia('publishing failed');
    await this.request('session:leave', {}).catch(() => undefined);
    await this.joinWithRetry(gen);
  }

  private async consume(p: ProducerView, gen: number): Promise<void> {
    if (!this.options.play || p.partyId === this.partyId || this.players.has(p.producerId)) return;
    const ip = this.options.mediaIp;
    // The gate holds the ports from now on, and lets only the server's datagrams through to the player.
    const gate = await MediaGate.open(ip, {
      onStray: (from) => this.log('warn', `dropped RTP from ${from}: the player takes media from the server only`, { role: p.role, kind: p.kind }),
    });
    let info: PlainConsumerInfo;
    try {
      info = await this.request('agent:consume', {
        producerId: p.producerId,
        ip,
        port: gate.port,
        rtcpPort: gate.rtcpPort,
        ...(this.options.plainRtp ? {} : { srtpKey: newSrtpKey() }),
      });
    } catch (err) {
      gate.close();
      throw err;
    }
    if (gen !== this.generation) {
      gate.close();
      return;
    }
    if (!this.options.plainRtp && info.srtpKey === undefined) {
      gate.close();
      throw new Error('the server offered plain RTP for a consumer: refused (media to the room is SRTP)');
    }
    const player = new Player(this.options.ffmpegPath, info, gate, this.options.sink, this.children, this.evidence?.tapFor(info), () => this.resubscribe(p, gen, player));
    this.players.set(p.producerId, player);
    player.start();
    // The player listens before the (paused) consumer starts sending.
    await new Promise((r) => setTimeout(r, 300));
    await this.request('consumer:resume', { consumerId: info.consumerId });
  }

  /** An SRTP player's ffmpeg exited: the producer is consumed afresh (new transport, new key), the server closing the old consumer. */
  private resubscribe(p: ProducerView, gen: number, player: Player): void {
    setTimeout(() => {
      this.enqueue(async () => {
        if (gen !== this.generation || this.players.get(p.producerId) !== player) return;
        this.log('info', `player of ${p.role} ${p.kind} exited: consuming it afresh`);
        this.stopPlayer(p.producerId);
        await this.consume(p, gen).catch((err: unknown) => this.log('warn', `cannot play ${p.role} ${p.kind} again: ${(err as Error).message}`));
      });
    }, 500).unref();
  }

  private evidenceCapture(source: CaptureSource): EvidenceCapture {
    const c = this.options.capture;
    if (c.kind === 'synthetic' && c.pattern === 'beep-flash') return { kind: 'beep-flash' };
    if (source.kind === 'devices') {
      if (!this.captureTap) throw new Error('devices capture without its tap');
      return { kind: 'shared', tap: this.captureTap };
    }
    return source;
  }

  private stopPlayer(producerId: string): void {
    const player = this.players.get(producerId);
    if (player) this.evidence?.released(player.info);
    player?.stop();
    this.players.delete(producerId);
  }

  private async stopMedia(reason: string): Promise<void> {
    if (this.publisher || this.players.size) this.log('info', `stopping media: ${reason}`);
    this.publisher?.stop();
    this.publisher = null;
    for (const id of [...this.players.keys()]) this.stopPlayer(id);
    await this.evidence?.end();
    this.sessionId = null;
    this.partyId = null;
    if (this.state !== 'stopped') this.state = this.socket?.connected ? 'idle' : 'connecting';
  }

  health(): HealthReport {
    const c = this.options.capture;
    const synthetic = c.kind === 'synthetic';
    const camera = synthetic ? { ok: true, device: 'synthetic clip' } : deviceHealth(c.videoDevice);
    const microphone = synthetic ? { ok: true, device: 'synthetic tone' } : alsaHealth(c.audioDevice);
    return {
      camera,
      microphone,
      ffmpeg: {
        ok: this.state === 'live' ? (this.publisher?.running ?? false) : this.state !== 'joining',
        publishing: this.publisher?.running ?? false,
        restarts: this.publisherRestarts,
        players: [...this.players.values()].filter((p) => p.running).length,
      },
      network: { ok: this.socket?.connected ?? false, rttMs: this.rttMs, reconnects: this.reconnects },
      synthetic,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
    };
  }

  private async reportHealth(): Promise<void> {
    if (!this.socket?.connected) return;
    const started = performance.now();
    try {
      await this.request('agent:health', this.health(), 5000);
      this.rttMs = Math.round(performance.now() - started);
    } catch (err) {
      this.log('warn', `health report failed: ${(err as Error).message}`);
    }
  }

  playerStats(): Array<{ producerId: string; consumerId: string; role: string; kind: string; framesDecoded: number; running: boolean; pid: number | undefined }> {
    return [...this.players.entries()].map(([producerId, p]) => ({ producerId, consumerId: p.info.consumerId, role: p.info.role, kind: p.info.kind, framesDecoded: p.framesDecoded, running: p.running, pid: p.pid }));
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    this.generation++;
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.socket?.disconnect();
    await this.queue;
    await this.stopMedia('agent stopped');
    await this.evidence?.stop();
    this.state = 'stopped';
  }
}

/** A fresh SRTP master key and salt (30 bytes, base64), never logged. */
function newSrtpKey(): string {
  return randomBytes(30).toString('base64');
}

function hashSeed(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return h;
}

function deviceHealth(device: string): { ok: boolean; device: string; detail?: string } {
  return existsSync(device) ? { ok: true, device } : { ok: false, device, detail: 'device not present' };
}

function alsaHealth(device: string): { ok: boolean; device: string; detail?: string } {
  try {
    const cards = readFileSync('/proc/asound/cards', 'utf8');
    return /\[\S+\s*\]/.test(cards) ? { ok: true, device } : { ok: false, device, detail: 'no sound card' };
  } catch {
    return { ok: false, device, detail: 'no ALSA' };
  }
}
