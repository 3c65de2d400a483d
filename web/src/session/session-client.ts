// The browser side of one party (prosecutor, lawyer, guest) in a session:
// Socket.io signalling, the mediasoup-client Device, one send and one recv
// transport, local producers (camera, microphone) and one consumer per remote
// producer. No Vue here: the page subscribes to `change` and reads snapshot().
//
// Lifecycle. A "join attempt" runs under an epoch number; teardown() bumps the
// epoch, closes every transport (which closes its producers and consumers) and
// rejects pending requests, so any await that resumes afterwards sees a stale
// epoch and stops. The server forgets a party whose socket disconnects, so
// every (re)connect re-runs the whole join; an ICE failure first tries an ICE
// restart, then leaves and joins again on the same socket.
import { Device } from 'mediasoup-client';
import type {
  ConnectionState,
  Consumer,
  DtlsParameters as MsDtlsParameters,
  Producer,
  RtpCapabilities as MsRtpCapabilities,
  RtpParameters as MsRtpParameters,
  Transport,
} from 'mediasoup-client/types';
import { io, type Socket } from 'socket.io-client';
import type {
  ClientEventName,
  ClientPayload,
  ClientReply,
  ClientToServerEvents,
  ErrorCode,
  JoinReply,
  MediaKind,
  PartyRole,
  PartyView,
  ProducerView,
  Reply,
  ServerToClientEvents,
  SessionView,
  TrackSource,
  TransportInfo,
} from '../../../server/signalling/protocol';
import { TypedEmitter } from './emitter';

const REQUEST_TIMEOUT_MS = 10_000;
const JOIN_TIMEOUT_MS = 15_000;
const LEAVE_TIMEOUT_MS = 3_000;
const ICE_DISCONNECTED_GRACE_MS = 5_000;
const ICE_RESTART_GRACE_MS = 10_000;
const NO_SESSION_RETRY_MS = 5_000;
const FRAME_POLL_MS = 50;

/** Errors that a retry cannot fix: the join stops and the page shows them. */
const FATAL_CODES: ReadonlySet<string> = new Set<ErrorCode>(['forbidden', 'not_found', 'bad_request', 'unsupported']);

export type SocketState = PleaSocketState;
export type SessionPhase =
  | 'idle' // not asked to join yet (autojoin=0)
  | 'joining'
  | 'waiting' // joined is refused with no_session: retrying
  | 'joined'
  | 'left'
  | 'ended'
  | 'failed';

export type RequestErrorCode = ErrorCode | 'timeout' | 'disconnected' | 'stale';

export class RequestError extends Error {
  readonly code: RequestErrorCode;
  constructor(code: RequestErrorCode, message: string) {
    super(message);
    this.name = 'RequestError';
    this.code = code;
  }
}

/** Something the page should tell the user about; the page translates `kind`. */
export interface SessionNotice {
  level: 'info' | 'warning' | 'error';
  kind:
    | 'join-failed'
    | 'join-retry'
    | 'waiting-session'
    | 'rejoining'
    | 'ice-restart'
    | 'produce-failed'
    | 'consume-failed'
    | 'resume-failed'
    | 'mute-failed'
    | 'media-failed'
    | 'device-failed'
    | 'device-ended'
    | 'server-disconnect'
    | 'removed';
  detail?: string;
}

export interface FatalError {
  kind: 'rejected' | 'join' | 'unsupported' | 'removed';
  code?: string;
  message: string;
}

export interface DeviceOption {
  deviceId: string;
  label: string;
}

export interface RemoteTileView {
  partyId: string;
  role: PartyRole;
  displayName: string;
  videoTrack: MediaStreamTrack | null;
  videoConsumerId: string | null;
  hasAudio: boolean;
  hasVideo: boolean;
  micPaused: boolean;
  cameraPaused: boolean;
}

export interface RemoteAudioView {
  consumerId: string;
  partyId: string;
  track: MediaStreamTrack;
}

export interface LocalView {
  audioTrack: MediaStreamTrack | null;
  videoTrack: MediaStreamTrack | null;
  micMuted: boolean;
  cameraOff: boolean;
  audioDeviceId: string;
  videoDeviceId: string;
  mediaError: string | null;
  sending: boolean;
}

export interface SessionSnapshot {
  socket: SocketState;
  phase: SessionPhase;
  joined: boolean;
  joins: number;
  partyId: string | null;
  role: PartyRole | null;
  session: { sessionId: string; roomId: string; roomName: string; roomNameEn: string } | null;
  parties: PartyView[];
  tiles: RemoteTileView[];
  audio: RemoteAudioView[];
  local: LocalView;
  devices: { audioInputs: DeviceOption[]; videoInputs: DeviceOption[] };
  /** Aggregated ICE/DTLS state of our transports. */
  media: 'none' | 'connecting' | 'connected' | 'unstable';
  fatal: FatalError | null;
  ended: { reason: string } | null;
  lastConnectError: string | null;
  /** Our window has ended: the server removes us at `removeAt` (ISO), after its grace. */
  windowEnding: { removeAt: string } | null;
}

export interface SessionClientOptions {
  /** A standing (demo) session's join link token… */
  token?: string;
  /** …or a guest whose device holds its redeemed guest link (the device cookie goes with the handshake)… */
  guest?: boolean;
  /** …or, for a signed-in person (the session cookie goes with the handshake), the booking to join. */
  bookingId?: string;
  /** Socket.io URL; same origin when omitted. */
  url?: string;
}

type SessionClientEvents = {
  change: [];
  notice: [SessionNotice];
};

interface ConsumerEntry {
  consumer: Consumer;
  producerId: string;
  partyId: string;
  role: PartyRole;
  kind: MediaKind;
  source: TrackSource;
}

type SourceAppData = { source: TrackSource };

const PENDING = 'pending' as const;

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

function errorCode(error: unknown): string | undefined {
  return error instanceof RequestError ? error.code : undefined;
}

function isStale(error: unknown): boolean {
  return error instanceof RequestError && (error.code === 'stale' || error.code === 'disconnected');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const ROLE_ORDER: Record<PartyRole, number> = { room: 0, prosecutor: 1, lawyer: 2, guest: 3 };

export class SessionClient extends TypedEmitter<SessionClientEvents> {
  private readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  private readonly bookingId: string | undefined;

  // Connection and join state
  private socketState: SocketState = 'connecting';
  private everConnected = false;
  private wantJoined = false;
  private phase: SessionPhase = 'idle';
  private epoch = 0;
  private joinRunning = false;
  private joinsOk = 0;
  private fatal: FatalError | null = null;
  private ended: { reason: string } | null = null;
  private lastConnectError: string | null = null;
  private windowEnding: { removeAt: string } | null = null;
  private serverDisconnects: number[] = [];
  private closed = false;
  private joinWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private readonly pendingRequests = new Map<number, (error: RequestError) => void>();
  private nextRequestId = 1;

  // Session view
  private partyId: string | null = null;
  /** Our role as of the last join; kept after leaving for the page header. */
  private ownRole: PartyRole | null = null;
  private session: SessionSnapshot['session'] = null;
  private readonly parties = new Map<string, PartyView>();
  private readonly remoteProducers = new Map<string, ProducerView>();
  /** Server pushes that arrive while session:join is in flight, replayed after the reply. */
  private eventBuffer: Array<() => void> | null = null;

  // mediasoup
  private device: Device | null = null;
  private deviceCapsKey = '';
  private sendTransport: Transport | null = null;
  private recvTransport: Transport | null = null;
  private readonly producers = new Map<MediaKind, Producer>();
  private readonly consumers = new Map<string, ConsumerEntry | typeof PENDING>();
  private readonly consumeRetries = new Map<string, number>();
  private readonly transportTimers = new Map<Transport, ReturnType<typeof setTimeout>>();
  private readonly iceRestarted = new WeakSet<Transport>();
  private produceChain: Promise<void> = Promise.resolve();

  // Local media
  private audioTrack: MediaStreamTrack | null = null;
  private videoTrack: MediaStreamTrack | null = null;
  private micMuted = false;
  private cameraOff = false;
  private audioDeviceId = '';
  private videoDeviceId = '';
  private mediaError: string | null = null;
  private mediaReady: Promise<void> = Promise.resolve();
  private devices: SessionSnapshot['devices'] = { audioInputs: [], videoInputs: [] };
  private readonly onDeviceChange = (): void => {
    void this.refreshDevices();
  };

  // Test hooks
  joinedAtMs: number | null = null;
  firstRemoteFrameAtMs: number | null = null;
  private framePollTimer: ReturnType<typeof setInterval> | null = null;

  // Snapshot cache
  private cached: SessionSnapshot | null = null;
  private changeScheduled = false;

  constructor(options: SessionClientOptions) {
    super();
    this.bookingId = options.bookingId;
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(options.url ?? '/', {
      // Display names come from the account or the booking, never from this page.
      auth: options.token ? { kind: 'party', token: options.token } : options.guest ? { kind: 'guest' } : { kind: 'person' },
      autoConnect: false,
      reconnection: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 5_000,
      timeout: 10_000,
    });
    this.socket = socket;
    this.bindSocket();
    navigator.mediaDevices?.addEventListener?.('devicechange', this.onDeviceChange);
  }

  // -------------------------------------------------------------------------
  // Public API

  /** Opens the socket (the join follows when asked for, see join()). */
  connect(): void {
    if (this.closed) return;
    this.socketState = this.everConnected ? 'reconnecting' : 'connecting';
    this.socket.connect();
    this.changed();
  }

  /** After a refused handshake or a server disconnect: try again. */
  reconnect(): void {
    if (this.closed || this.ended || this.socket.connected) return;
    if (this.fatal?.kind === 'rejected') this.fatal = null;
    this.lastConnectError = null;
    this.connect();
  }

  /**
   * Asks to be in the session. Resolves when the join is complete (joined,
   * transports created, local tracks produced, present producers consumed);
   * keeps waiting across reconnections; rejects on a fatal error, leave or end.
   */
  join(): Promise<void> {
    if (this.closed || this.ended) return Promise.reject(new Error(this.ended ? 'session ended' : 'client closed'));
    if (this.fatal) return Promise.reject(new Error(this.fatal.message));
    if (this.wantJoined && this.phase === 'joined' && !this.joinRunning) return Promise.resolve();
    const waiter = new Promise<void>((resolve, reject) => this.joinWaiters.push({ resolve, reject }));
    if (!this.wantJoined) {
      this.wantJoined = true;
      if (this.phase === 'idle') this.phase = 'joining';
      if (this.socket.connected) this.startJoin(false);
      else if (!this.socket.active) this.connect();
      this.changed();
    }
    return waiter;
  }

  /** Opens camera and microphone (both, or whichever works). Never rejects. */
  openMedia(): Promise<void> {
    this.mediaReady = this.doOpenMedia();
    return this.mediaReady;
  }

  async leave(): Promise<void> {
    if (this.closed) return;
    this.wantJoined = false;
    this.rejectWaiters(new Error('left'));
    if (this.partyId && this.socket.connected) {
      await this.request('session:leave', {}, LEAVE_TIMEOUT_MS).catch(() => undefined);
    }
    this.phase = 'left';
    this.shutdown();
  }

  /** Releases everything without telling the server (page unload, unmount). */
  close(): void {
    if (this.closed) return;
    this.wantJoined = false;
    this.rejectWaiters(new Error('client closed'));
    this.shutdown();
    navigator.mediaDevices?.removeEventListener?.('devicechange', this.onDeviceChange);
    this.closed = true;
    this.removeAllListeners();
  }

  async setMicMuted(muted: boolean): Promise<void> {
    this.micMuted = muted;
    if (this.audioTrack) this.audioTrack.enabled = !muted;
    this.changed();
    await this.syncProducerPause('audio', muted);
  }

  async setCameraOff(off: boolean): Promise<void> {
    this.cameraOff = off;
    if (this.videoTrack) this.videoTrack.enabled = !off;
    this.changed();
    await this.syncProducerPause('video', off);
  }

  /** Switches camera or microphone; the producer's track is replaced in place. Never rejects. */
  async selectDevice(kind: MediaKind, deviceId: string): Promise<void> {
    let track: MediaStreamTrack | undefined;
    try {
      const stream = await navigator.mediaDevices.getUserMedia(
        kind === 'audio' ? { audio: audioConstraints(deviceId) } : { video: videoConstraints(deviceId) }
      );
      track = kind === 'audio' ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
      if (!track) throw new Error(`no ${kind} track`);
    } catch (error) {
      this.notice({ level: 'error', kind: 'device-failed', detail: errorMessage(error) });
      return;
    }
    if (this.closed || this.ended || this.phase === 'left') {
      track.stop();
      return;
    }
    if (!(await this.useTrack(kind, track))) return;
    if (this.mediaError && isLive(this.audioTrack) && isLive(this.videoTrack)) this.mediaError = null;
    this.changed();
    if (!this.producers.has(kind)) this.queueProduce(this.epoch);
    void this.refreshDevices();
  }

  /** The page reports a presented remote video frame (requestVideoFrameCallback). */
  reportVideoFrame(consumerId: string): void {
    if (this.firstRemoteFrameAtMs !== null) return;
    for (const entry of this.consumers.values()) {
      if (entry !== PENDING && entry.consumer.id === consumerId) {
        this.markFirstFrame();
        return;
      }
    }
  }

  snapshot(): SessionSnapshot {
    this.cached ??= this.buildSnapshot();
    return this.cached;
  }

  // Test hooks -----------------------------------------------------------------

  testState(): PleaSessionState {
    let consumers = 0;
    for (const entry of this.consumers.values()) if (entry !== PENDING && !entry.consumer.closed) consumers++;
    return {
      socket: this.socketState,
      joined: this.partyId !== null,
      partyId: this.partyId,
      joins: this.joinsOk,
      remoteProducers: this.remoteProducers.size,
      consumers,
    };
  }

  async remoteStats(): Promise<PleaRemoteStat[]> {
    const entries = [...this.consumers.values()].filter((e): e is ConsumerEntry => e !== PENDING && !e.consumer.closed);
    const rows = await Promise.all(
      entries.map(async (entry): Promise<PleaRemoteStat> => {
        let inbound: Record<string, unknown> | undefined;
        try {
          const report = await entry.consumer.getStats();
          report.forEach((stat: Record<string, unknown>) => {
            if (stat.type === 'inbound-rtp' && !inbound) inbound = stat;
          });
        } catch {
          inbound = undefined;
        }
        return {
          producerId: entry.producerId,
          partyId: entry.partyId,
          role: entry.role,
          kind: entry.kind,
          framesDecoded: num(inbound?.framesDecoded),
          packetsReceived: num(inbound?.packetsReceived),
          totalSamplesReceived: num(inbound?.totalSamplesReceived),
          concealedSamples: num(inbound?.concealedSamples),
          bytesReceived: num(inbound?.bytesReceived),
        };
      })
    );
    return rows;
  }

  async localStats(): Promise<PleaLocalStat[]> {
    const producers = [...this.producers.values()].filter((p) => !p.closed);
    return Promise.all(
      producers.map(async (producer): Promise<PleaLocalStat> => {
        let packetsSent = 0;
        let bytesSent = 0;
        try {
          const report = await producer.getStats();
          report.forEach((stat: Record<string, unknown>) => {
            if (stat.type === 'outbound-rtp') {
              packetsSent += num(stat.packetsSent);
              bytesSent += num(stat.bytesSent);
            }
          });
        } catch {
          // closed meanwhile: zeros
        }
        return { kind: producer.kind, packetsSent, bytesSent };
      })
    );
  }

  // -------------------------------------------------------------------------
  // Socket

  private bindSocket(): void {
    const socket = this.socket;

    socket.on('connect', () => {
      this.everConnected = true;
      this.socketState = 'connected';
      this.lastConnectError = null;
      if (this.fatal?.kind === 'rejected') this.fatal = null;
      this.changed();
      if (this.wantJoined && !this.ended && !this.fatal) this.startJoin(false);
    });

    socket.on('disconnect', (reason) => {
      // The server forgets our party with the socket: drop all media state.
      this.teardown();
      if (reason === 'io client disconnect') {
        this.socketState = 'disconnected';
      } else if (reason === 'io server disconnect') {
        // The server closed the socket; Socket.io does not retry this by
        // itself. Retry a few times (the handshake re-checks the link), then
        // leave it to the user's "reconnect" button.
        const now = Date.now();
        this.serverDisconnects = this.serverDisconnects.filter((t) => now - t < 60_000);
        this.serverDisconnects.push(now);
        if (!this.ended && this.serverDisconnects.length <= 3) {
          this.socketState = 'reconnecting';
          setTimeout(() => {
            if (!this.closed && !this.ended && !this.socket.connected && !this.socket.active) this.socket.connect();
          }, 1000 * this.serverDisconnects.length);
        } else {
          this.socketState = 'disconnected';
          if (!this.ended) this.notice({ level: 'error', kind: 'server-disconnect' });
        }
      } else {
        this.socketState = 'reconnecting';
      }
      if (this.wantJoined && !this.ended) this.phase = 'joining';
      this.changed();
    });

    socket.on('connect_error', (error) => {
      this.lastConnectError = error.message;
      if (!socket.active) {
        // Refused by the server's handshake middleware (bad or expired token):
        // Socket.io does not retry; show why.
        this.socketState = 'disconnected';
        this.fatal = { kind: 'rejected', message: error.message };
        this.rejectWaiters(new Error(error.message));
      } else {
        this.socketState = this.everConnected ? 'reconnecting' : 'connecting';
      }
      this.changed();
    });

    socket.io.on('reconnect_attempt', () => {
      if (!socket.connected) {
        this.socketState = 'reconnecting';
        this.changed();
      }
    });
    socket.io.on('reconnect_failed', () => {
      this.socketState = 'disconnected';
      this.changed();
    });

    socket.on('session:state', (view) => this.dispatch(() => this.applySessionView(view)));
    socket.on('party:joined', (party) =>
      this.dispatch(() => {
        this.parties.set(party.partyId, party);
        this.changed();
      })
    );
    socket.on('party:left', ({ partyId, reason }) =>
      this.dispatch(() => {
        if (partyId === this.partyId) {
          // Our own leave echoes back while leave() waits for its reply: ignore that.
          if (this.wantJoined) this.onRemovedFromSession(reason);
          return;
        }
        this.parties.delete(partyId);
        for (const producer of [...this.remoteProducers.values()]) {
          if (producer.partyId === partyId) this.removeRemoteProducer(producer.producerId);
        }
        this.changed();
      })
    );
    socket.on('producer:added', (producer) =>
      this.dispatch(() => {
        this.upsertRemoteProducer(producer);
        this.changed();
      })
    );
    socket.on('producer:removed', ({ producerId }) =>
      this.dispatch(() => {
        this.removeRemoteProducer(producerId);
        this.changed();
      })
    );
    socket.on('producer:paused', ({ producerId }) => this.dispatch(() => this.setRemotePaused(producerId, true)));
    socket.on('producer:resumed', ({ producerId }) => this.dispatch(() => this.setRemotePaused(producerId, false)));
    socket.on('consumer:closed', ({ consumerId, producerId }) =>
      this.dispatch(() => {
        const entry = this.consumers.get(producerId);
        if (entry && entry !== PENDING && entry.consumer.id === consumerId) {
          this.closeConsumer(producerId);
          this.scheduleReconsume(producerId);
          this.changed();
        }
      })
    );
    socket.on('party:window-ending', ({ partyId, removeAt }) =>
      this.dispatch(() => {
        if (partyId !== this.partyId) return;
        this.windowEnding = { removeAt };
        this.changed();
      })
    );
    socket.on('session:closed', ({ reason }) => {
      this.ended = { reason };
      this.phase = 'ended';
      this.wantJoined = false;
      this.rejectWaiters(new Error(`session closed: ${reason}`));
      this.shutdown();
    });
  }

  /** Applies a server push now, buffers it while session:join is in flight, drops it when not joined. */
  private dispatch(apply: () => void): void {
    if (this.eventBuffer) this.eventBuffer.push(apply);
    else if (this.partyId) apply();
  }

  /** Sends one client→server event and waits for its Reply. */
  private request<E extends ClientEventName>(
    event: E,
    payload: ClientPayload<E>,
    timeoutMs = REQUEST_TIMEOUT_MS
  ): Promise<ClientReply<E>> {
    return new Promise<ClientReply<E>>((resolve, reject) => {
      // Never let Socket.io buffer a request for after a reconnection: the
      // server will not know this party any more.
      if (!this.socket.connected) {
        reject(new RequestError('disconnected', `${event}: not connected`));
        return;
      }
      const id = this.nextRequestId++;
      const epoch = this.epoch;
      let settled = false;
      const settle = (error: RequestError | null, data?: ClientReply<E>): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.pendingRequests.delete(id);
        if (error) reject(error);
        else resolve(data as ClientReply<E>);
      };
      const timer = setTimeout(() => settle(new RequestError('timeout', `${event}: no reply in ${timeoutMs} ms`)), timeoutMs);
      this.pendingRequests.set(id, (error) => settle(error));
      const emit = this.socket.emit as unknown as (
        this: Socket,
        ev: string,
        body: unknown,
        ack: (reply: Reply<ClientReply<E>>) => void
      ) => void;
      emit.call(this.socket as unknown as Socket, event, payload, (reply) => {
        if (!reply || typeof reply !== 'object' || typeof reply.ok !== 'boolean') {
          settle(new RequestError('internal', `${event}: malformed reply`));
        } else if (reply.ok) {
          settle(null, reply.data);
        } else {
          const code = reply.error?.code ?? 'internal';
          settle(new RequestError(code, `${event}: ${reply.error?.message ?? 'failed'}`));
          if (code === 'not_joined') this.onNotJoined(epoch);
        }
      });
    });
  }

  /**
   * The server forgot our party while the socket stayed (it closed the party
   * from its side and sends no event about it): join again.
   */
  private onNotJoined(epoch: number): void {
    if (epoch !== this.epoch || !this.partyId || this.joinRunning) return;
    queueMicrotask(() => this.rejoin(epoch));
  }

  // -------------------------------------------------------------------------
  // Join

  private startJoin(leaveFirst: boolean): void {
    const epoch = this.teardown();
    this.phase = 'joining';
    this.changed();
    void this.joinLoop(epoch, leaveFirst);
  }

  /** Runs join attempts until one succeeds, the epoch goes stale, or a fatal error. Never rejects. */
  private async joinLoop(epoch: number, leaveFirst: boolean): Promise<void> {
    this.joinRunning = true;
    let attempt = 0;
    try {
      for (;;) {
        if (epoch !== this.epoch || !this.wantJoined) return;
        try {
          if (leaveFirst) {
            await this.request('session:leave', {}, LEAVE_TIMEOUT_MS).catch((error: unknown) => {
              if (errorCode(error) === 'disconnected') throw error;
            });
            leaveFirst = false;
          }
          this.assertEpoch(epoch);
          await this.joinOnce(epoch);
          this.assertEpoch(epoch);
          this.phase = 'joined';
          this.changed();
          this.resolveWaiters();
          return;
        } catch (error) {
          if (isStale(error) || epoch !== this.epoch) return;
          const code = errorCode(error) ?? '';
          const hadParty = this.partyId !== null;
          this.resetMedia();
          if (FATAL_CODES.has(code)) {
            this.fatal = { kind: code === 'unsupported' ? 'unsupported' : 'join', code, message: errorMessage(error) };
            this.phase = 'failed';
            this.wantJoined = false;
            this.notice({ level: 'error', kind: 'join-failed', detail: errorMessage(error) });
            this.rejectWaiters(new Error(errorMessage(error)));
            this.changed();
            return;
          }
          attempt++;
          let delay: number;
          if (code === 'no_session') {
            this.phase = 'waiting';
            if (attempt === 1) this.notice({ level: 'info', kind: 'waiting-session' });
            delay = NO_SESSION_RETRY_MS;
          } else {
            this.phase = 'joining';
            this.notice({ level: 'warning', kind: 'join-retry', detail: errorMessage(error) });
            delay = Math.min(500 * 2 ** Math.min(attempt, 5), 10_000);
          }
          leaveFirst = hadParty;
          this.changed();
          await sleep(delay);
        }
      }
    } finally {
      if (epoch === this.epoch) this.joinRunning = false;
    }
  }

  private async joinOnce(epoch: number): Promise<void> {
    // Buffer pushes from now on: they are replayed in order on the reply's snapshot.
    this.eventBuffer = [];
    this.joinedAtMs = performance.now();
    this.firstRemoteFrameAtMs = null;
    mark('join-request');
    let reply: JoinReply;
    try {
      reply = await this.request('session:join', this.joinPayload(), JOIN_TIMEOUT_MS);
    } catch (error) {
      if (errorCode(error) !== 'already_joined') throw error;
      // The server still holds our party (e.g. a rejoin on the same socket): leave and join again.
      await this.request('session:leave', {}, LEAVE_TIMEOUT_MS).catch(() => undefined);
      this.assertEpoch(epoch);
      this.joinedAtMs = performance.now();
      reply = await this.request('session:join', this.joinPayload(), JOIN_TIMEOUT_MS);
    }
    this.assertEpoch(epoch);
    mark('join-reply');
    this.joinsOk++;
    this.windowEnding = null;
    this.partyId = reply.partyId;
    this.applySessionView(reply.session);
    this.ownRole = this.parties.get(reply.partyId)?.role ?? this.ownRole;
    const buffered = this.eventBuffer ?? [];
    this.eventBuffer = null;
    for (const apply of buffered) apply();
    this.changed();

    // The recv transport is asked for while the Device loads (both take a while).
    const recvInfo = this.request('transport:create', { direction: 'recv' });
    recvInfo.catch(() => undefined); // awaited below; this only silences an early rejection
    await this.loadDevice(reply.routerRtpCapabilities as unknown as MsRtpCapabilities);
    this.assertEpoch(epoch);

    // Receive first (first remote frame as soon as possible), then send: the
    // send side's SDP and encoder start-up would compete for the main thread.
    await this.setupRecv(epoch, recvInfo);
    await this.setupSend(epoch);
  }

  private joinPayload(): ClientPayload<'session:join'> {
    return this.bookingId ? { bookingId: this.bookingId } : {};
  }

  private async loadDevice(routerRtpCapabilities: MsRtpCapabilities): Promise<void> {
    const key = JSON.stringify(routerRtpCapabilities);
    if (this.device?.loaded && key === this.deviceCapsKey) return;
    let device: Device;
    try {
      device = new Device();
      await device.load({ routerRtpCapabilities });
    } catch (error) {
      throw new RequestError('unsupported', `this browser cannot join: ${errorMessage(error)}`);
    }
    this.device = device;
    this.deviceCapsKey = key;
  }

  private async setupRecv(epoch: number, info: Promise<TransportInfo>): Promise<void> {
    const transport = await this.createTransport('recv', epoch, info);
    mark('recv-transport');
    this.recvTransport = transport;
    this.changed();
    // Video first: the first remote frame matters more than the first sample.
    const initial = [...this.remoteProducers.values()]
      .sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'video' ? -1 : 1))
      .map((producer) => this.consume(producer.producerId, epoch));
    await Promise.all(initial);
  }

  /** Creates the send transport and produces local tracks; failures are notices, not join failures. */
  private async setupSend(epoch: number): Promise<void> {
    await this.mediaReady;
    if (epoch !== this.epoch) return;
    this.queueProduce(epoch);
    await this.produceChain;
  }

  private async createTransport(
    direction: 'send' | 'recv',
    epoch: number,
    requested?: Promise<TransportInfo>
  ): Promise<Transport> {
    const info = await (requested ?? this.request('transport:create', { direction }));
    this.assertEpoch(epoch);
    const device = this.requireDevice();
    const options = {
      id: info.transportId,
      iceParameters: info.iceParameters,
      iceCandidates: info.iceCandidates.map((candidate) => ({ ...candidate, ip: candidate.address })),
      dtlsParameters: info.dtlsParameters as MsDtlsParameters,
      appData: { direction },
    };
    const transport = direction === 'send' ? device.createSendTransport(options) : device.createRecvTransport(options);

    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.request('transport:connect', { transportId: transport.id, dtlsParameters }).then(
        () => callback(),
        (error: unknown) => errback(error instanceof Error ? error : new Error(String(error)))
      );
    });

    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        const source = (appData as Partial<SourceAppData>).source ?? (kind === 'audio' ? 'microphone' : 'camera');
        this.request('producer:create', {
          transportId: transport.id,
          kind,
          source,
          rtpParameters: rtpParameters as unknown as ClientPayload<'producer:create'>['rtpParameters'],
        }).then(
          ({ producerId }) => callback({ id: producerId }),
          (error: unknown) => errback(error instanceof Error ? error : new Error(String(error)))
        );
      });
    }

    transport.on('connectionstatechange', (state) => this.onTransportState(transport, state, epoch));
    return transport;
  }

  // -------------------------------------------------------------------------
  // Producing

  /** Serialises produce work; each run produces whichever local track lacks a producer. */
  private queueProduce(epoch: number): void {
    this.produceChain = this.produceChain.then(() => this.produceMissing(epoch)).catch((error: unknown) => {
      if (!isStale(error)) this.notice({ level: 'error', kind: 'produce-failed', detail: errorMessage(error) });
    });
  }

  private async produceMissing(epoch: number): Promise<void> {
    if (epoch !== this.epoch || !this.partyId || !this.device) return;
    const wanted: Array<{ kind: MediaKind; track: MediaStreamTrack }> = [];
    if (this.audioTrack && this.audioTrack.readyState === 'live' && !this.producers.has('audio')) {
      wanted.push({ kind: 'audio', track: this.audioTrack });
    }
    if (this.videoTrack && this.videoTrack.readyState === 'live' && !this.producers.has('video')) {
      wanted.push({ kind: 'video', track: this.videoTrack });
    }
    if (wanted.length === 0) return;
    if (!this.sendTransport) {
      const transport = await this.createTransport('send', epoch);
      this.sendTransport = transport;
    }
    const transport = this.sendTransport;
    for (const { kind, track } of wanted) {
      if (epoch !== this.epoch) return;
      if (!this.device.canProduce(kind)) {
        this.notice({ level: 'warning', kind: 'produce-failed', detail: `cannot send ${kind} with this browser` });
        continue;
      }
      try {
        const producer = await transport.produce<SourceAppData>({
          track,
          stopTracks: false,
          ...(kind === 'video'
            ? { encodings: [{ maxBitrate: 1_500_000 }], codecOptions: { videoGoogleStartBitrate: 1000 } }
            : { codecOptions: { opusFec: true } }),
          appData: { source: kind === 'audio' ? 'microphone' : 'camera' },
        });
        if (epoch !== this.epoch) {
          producer.close();
          return;
        }
        this.producers.set(kind, producer);
        producer.on('transportclose', () => {
          if (this.producers.get(kind) === producer) this.producers.delete(kind);
        });
        producer.on('trackended', () => {
          this.notice({ level: 'warning', kind: 'device-ended', detail: kind });
        });
        this.changed();
        const muted = kind === 'audio' ? this.micMuted : this.cameraOff;
        if (muted) await this.syncProducerPause(kind, true);
      } catch (error) {
        if (isStale(error) || epoch !== this.epoch) return;
        this.notice({ level: 'error', kind: 'produce-failed', detail: `${kind}: ${errorMessage(error)}` });
      }
    }
  }

  private async syncProducerPause(kind: MediaKind, paused: boolean): Promise<void> {
    const producer = this.producers.get(kind);
    if (!producer || producer.closed) return;
    if (paused) producer.pause();
    else producer.resume();
    // disableTrackOnPause toggles track.enabled; keep it matching our own flag.
    const track = kind === 'audio' ? this.audioTrack : this.videoTrack;
    if (track) track.enabled = !paused;
    try {
      await this.request(paused ? 'producer:pause' : 'producer:resume', { producerId: producer.id });
    } catch (error) {
      if (isStale(error)) return;
      this.notice({ level: 'error', kind: 'mute-failed', detail: errorMessage(error) });
    }
  }

  // -------------------------------------------------------------------------
  // Consuming

  private upsertRemoteProducer(producer: ProducerView): void {
    if (producer.partyId === this.partyId) return;
    const known = this.remoteProducers.get(producer.producerId);
    this.remoteProducers.set(producer.producerId, { ...known, ...producer });
    if (!known && this.recvTransport) void this.consume(producer.producerId, this.epoch);
  }

  private removeRemoteProducer(producerId: string): void {
    this.remoteProducers.delete(producerId);
    this.consumeRetries.delete(producerId);
    this.closeConsumer(producerId);
  }

  private setRemotePaused(producerId: string, paused: boolean): void {
    const producer = this.remoteProducers.get(producerId);
    if (!producer) return;
    this.remoteProducers.set(producerId, { ...producer, paused });
    this.changed();
  }

  /** Consumes one remote producer. Never rejects. */
  private async consume(producerId: string, epoch: number): Promise<void> {
    if (this.consumers.has(producerId)) return;
    const transport = this.recvTransport;
    const device = this.device;
    if (!transport || !device || epoch !== this.epoch) return;
    this.consumers.set(producerId, PENDING);
    try {
      const info = await this.request('consumer:create', {
        producerId,
        transportId: transport.id,
        rtpCapabilities: device.recvRtpCapabilities as unknown as ClientPayload<'consumer:create'>['rtpCapabilities'],
      });
      this.assertEpoch(epoch);
      const view = this.remoteProducers.get(producerId);
      if (!view || transport.closed) {
        // Removed meanwhile: the server closes its consumer with the producer.
        this.consumers.delete(producerId);
        return;
      }
      const consumer = await transport.consume({
        id: info.consumerId,
        producerId: info.producerId,
        kind: info.kind,
        rtpParameters: info.rtpParameters as unknown as MsRtpParameters,
        appData: { partyId: info.partyId },
      });
      if (epoch !== this.epoch || this.consumers.get(producerId) !== PENDING || !this.remoteProducers.has(producerId)) {
        consumer.close();
        if (this.consumers.get(producerId) === PENDING) this.consumers.delete(producerId);
        return;
      }
      const entry: ConsumerEntry = {
        consumer,
        producerId,
        partyId: info.partyId || view.partyId,
        role: view.role,
        kind: info.kind,
        source: view.source,
      };
      this.consumers.set(producerId, entry);
      mark(`consumer-${entry.kind}-${entry.role}`);
      consumer.on('transportclose', () => this.dropConsumerEntry(producerId, consumer));
      consumer.on('trackended', () => {
        this.dropConsumerEntry(producerId, consumer);
        this.changed();
      });
      // Publish the track so the page attaches it to its <video>/<audio>; that
      // happens in this task's microtasks, before any RTP of the resumed
      // consumer can arrive. Then ask the server to start sending.
      this.changed();
      if (entry.kind === 'video') this.startFramePoll();
      try {
        await this.request('consumer:resume', { consumerId: consumer.id });
      } catch (error) {
        if (!isStale(error)) this.noticeIfProducerStays(producerId, epoch, { level: 'error', kind: 'resume-failed', detail: errorMessage(error) });
      }
    } catch (error) {
      if (this.consumers.get(producerId) === PENDING) this.consumers.delete(producerId);
      if (isStale(error) || epoch !== this.epoch) return;
      if (errorCode(error) === 'not_found' || errorCode(error) === 'not_joined') {
        // The producer went away meanwhile (its producer:removed follows), or
        // our party did (onNotJoined rejoins): nothing to tell the user.
        this.changed();
        return;
      }
      this.noticeIfProducerStays(producerId, epoch, { level: 'error', kind: 'consume-failed', detail: errorMessage(error) });
      this.scheduleReconsume(producerId);
      this.changed();
    }
  }

  /**
   * A consume that fails while the remote party is leaving is no news: tell
   * the user only if the producer is still there a moment later.
   */
  private noticeIfProducerStays(producerId: string, epoch: number, notice: SessionNotice): void {
    setTimeout(() => {
      if (epoch === this.epoch && this.remoteProducers.has(producerId)) this.notice(notice);
    }, 1000);
  }

  /** A consumer that failed or was closed while its producer still exists: try again, a few times. */
  private scheduleReconsume(producerId: string): void {
    const tries = (this.consumeRetries.get(producerId) ?? 0) + 1;
    if (tries > 3) return;
    this.consumeRetries.set(producerId, tries);
    const epoch = this.epoch;
    setTimeout(() => {
      if (epoch === this.epoch && this.remoteProducers.has(producerId) && !this.consumers.has(producerId)) {
        void this.consume(producerId, epoch);
      }
    }, 1000 * tries);
  }

  private closeConsumer(producerId: string): void {
    const entry = this.consumers.get(producerId);
    this.consumers.delete(producerId);
    if (entry && entry !== PENDING && !entry.consumer.closed) entry.consumer.close();
  }

  private dropConsumerEntry(producerId: string, consumer: Consumer): void {
    const entry = this.consumers.get(producerId);
    if (entry && entry !== PENDING && entry.consumer === consumer) this.consumers.delete(producerId);
  }

  // -------------------------------------------------------------------------
  // First remote frame (test hook): the page's requestVideoFrameCallback, or
  // framesDecoded > 0 in the consumer's stats, whichever is seen first.

  private markFirstFrame(): void {
    if (this.firstRemoteFrameAtMs !== null) return;
    this.firstRemoteFrameAtMs = performance.now();
    mark('first-remote-frame');
    this.stopFramePoll();
  }

  private startFramePoll(): void {
    if (this.framePollTimer !== null || this.firstRemoteFrameAtMs !== null) return;
    let busy = false;
    this.framePollTimer = setInterval(() => {
      if (busy) return;
      const videos = [...this.consumers.values()].filter(
        (e): e is ConsumerEntry => e !== PENDING && e.kind === 'video' && !e.consumer.closed
      );
      if (videos.length === 0 || this.firstRemoteFrameAtMs !== null) {
        this.stopFramePoll();
        return;
      }
      busy = true;
      Promise.all(videos.map((e) => e.consumer.getStats().catch(() => null)))
        .then((reports) => {
          for (const report of reports) {
            report?.forEach((stat: Record<string, unknown>) => {
              if (stat.type === 'inbound-rtp' && num(stat.framesDecoded) > 0) this.markFirstFrame();
            });
          }
        })
        .catch(() => undefined)
        .finally(() => {
          busy = false;
        });
    }, FRAME_POLL_MS);
  }

  private stopFramePoll(): void {
    if (this.framePollTimer !== null) clearInterval(this.framePollTimer);
    this.framePollTimer = null;
  }

  // -------------------------------------------------------------------------
  // ICE: restart once, then leave and join again

  private onTransportState(transport: Transport, state: ConnectionState, epoch: number): void {
    if (epoch !== this.epoch || (transport !== this.sendTransport && transport !== this.recvTransport)) return;
    this.changed();
    this.clearTransportTimer(transport);
    if (state === 'connected') {
      this.iceRestarted.delete(transport);
    } else if (state === 'disconnected') {
      // Often recovers by itself; restart ICE if it does not.
      this.transportTimers.set(
        transport,
        setTimeout(() => {
          if (transport.connectionState === 'disconnected') this.onTransportFailed(transport, epoch);
        }, ICE_DISCONNECTED_GRACE_MS)
      );
    } else if (state === 'failed') {
      this.onTransportFailed(transport, epoch);
    }
  }

  private onTransportFailed(transport: Transport, epoch: number): void {
    if (epoch !== this.epoch || transport.closed) return;
    if (this.iceRestarted.has(transport) || !this.socket.connected) {
      this.rejoin(epoch);
      return;
    }
    this.iceRestarted.add(transport);
    this.notice({ level: 'warning', kind: 'ice-restart' });
    this.request('transport:restart-ice', { transportId: transport.id })
      .then(async ({ iceParameters }) => {
        this.assertEpoch(epoch);
        await transport.restartIce({ iceParameters });
        this.clearTransportTimer(transport);
        this.transportTimers.set(
          transport,
          setTimeout(() => {
            if (transport.connectionState !== 'connected') this.rejoin(epoch);
          }, ICE_RESTART_GRACE_MS)
        );
      })
      .catch((error: unknown) => {
        if (isStale(error) || epoch !== this.epoch) return;
        this.rejoin(epoch);
      });
  }

  private rejoin(epoch: number): void {
    if (epoch !== this.epoch || !this.wantJoined || this.ended) return;
    if (!this.socket.connected) return; // the reconnect handler joins again
    this.notice({ level: 'warning', kind: 'rejoining' });
    this.startJoin(true);
  }

  private clearTransportTimer(transport: Transport): void {
    const timer = this.transportTimers.get(transport);
    if (timer !== undefined) clearTimeout(timer);
    this.transportTimers.delete(transport);
  }

  // -------------------------------------------------------------------------
  // Session view

  private applySessionView(view: SessionView): void {
    this.session = { sessionId: view.sessionId, roomId: view.roomId, roomName: view.roomName, roomNameEn: view.roomNameEn };
    this.parties.clear();
    for (const party of view.parties) this.parties.set(party.partyId, party);
    const present = new Set<string>();
    for (const producer of view.producers) {
      if (producer.partyId === this.partyId) continue;
      present.add(producer.producerId);
      this.upsertRemoteProducer(producer);
    }
    for (const producerId of [...this.remoteProducers.keys()]) {
      if (!present.has(producerId)) this.removeRemoteProducer(producerId);
    }
    this.changed();
  }

  private onRemovedFromSession(reason: string): void {
    // Our own party was removed while the socket stays (e.g. replaced by a
    // newer connection with the same link): do not fight it by rejoining.
    this.wantJoined = false;
    this.teardown();
    this.phase = 'failed';
    this.fatal = { kind: 'removed', message: reason };
    this.notice({ level: 'error', kind: 'removed', detail: reason });
    this.rejectWaiters(new Error(`removed: ${reason}`));
    this.changed();
  }

  // -------------------------------------------------------------------------
  // Teardown

  /** Ends the current epoch: closes transports (so producers and consumers), forgets the party. */
  private teardown(): number {
    this.epoch++;
    this.joinRunning = false;
    for (const reject of [...this.pendingRequests.values()]) reject(new RequestError('stale', 'superseded'));
    this.pendingRequests.clear();
    this.resetMedia();
    return this.epoch;
  }

  /** Closes mediasoup state and forgets the session view; keeps local tracks and the Device. */
  private resetMedia(): void {
    this.eventBuffer = null;
    for (const transport of [...this.transportTimers.keys()]) this.clearTransportTimer(transport);
    for (const entry of this.consumers.values()) if (entry !== PENDING && !entry.consumer.closed) entry.consumer.close();
    this.consumers.clear();
    this.consumeRetries.clear();
    for (const producer of this.producers.values()) if (!producer.closed) producer.close();
    this.producers.clear();
    if (this.sendTransport && !this.sendTransport.closed) this.sendTransport.close();
    if (this.recvTransport && !this.recvTransport.closed) this.recvTransport.close();
    this.sendTransport = null;
    this.recvTransport = null;
    this.stopFramePoll();
    this.partyId = null;
    this.parties.clear();
    this.remoteProducers.clear();
    this.produceChain = Promise.resolve();
    this.changed();
  }

  /** Final stop: media, local tracks and socket. */
  private shutdown(): void {
    this.teardown();
    this.audioTrack?.stop();
    this.videoTrack?.stop();
    this.audioTrack = null;
    this.videoTrack = null;
    if (this.socket.connected || this.socket.active) this.socket.disconnect();
    this.socketState = 'disconnected';
    this.changed();
  }

  private assertEpoch(epoch: number): void {
    if (epoch !== this.epoch) throw new RequestError('stale', 'superseded');
  }

  private requireDevice(): Device {
    if (!this.device) throw new RequestError('internal', 'device not loaded');
    return this.device;
  }

  private resolveWaiters(): void {
    const waiters = this.joinWaiters;
    this.joinWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  private rejectWaiters(error: Error): void {
    const waiters = this.joinWaiters;
    this.joinWaiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  // -------------------------------------------------------------------------
  // Local media

  private async doOpenMedia(): Promise<void> {
    if (!navigator.mediaDevices?.getUserMedia) {
      this.mediaError = 'getUserMedia unavailable (HTTPS required)';
      this.notice({ level: 'error', kind: 'media-failed', detail: this.mediaError });
      this.changed();
      return;
    }
    // Only what is missing: a retry must not replace a working camera.
    const wantAudio = !isLive(this.audioTrack);
    const wantVideo = !isLive(this.videoTrack);
    if (!wantAudio && !wantVideo) {
      await this.refreshDevices();
      return;
    }
    let audio: MediaStreamTrack | null = null;
    let video: MediaStreamTrack | null = null;
    const errors: string[] = [];
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: wantAudio ? audioConstraints(this.audioDeviceId) : false,
        video: wantVideo ? videoConstraints(this.videoDeviceId) : false,
      });
      audio = stream.getAudioTracks()[0] ?? null;
      video = stream.getVideoTracks()[0] ?? null;
    } catch (error) {
      if (wantAudio && wantVideo) {
        // One of the two may be missing or refused: try each alone.
        const [a, v] = await Promise.allSettled([
          navigator.mediaDevices.getUserMedia({ audio: audioConstraints(this.audioDeviceId) }),
          navigator.mediaDevices.getUserMedia({ video: videoConstraints(this.videoDeviceId) }),
        ]);
        if (a.status === 'fulfilled') audio = a.value.getAudioTracks()[0] ?? null;
        else errors.push(`microphone: ${errorMessage(a.reason)}`);
        if (v.status === 'fulfilled') video = v.value.getVideoTracks()[0] ?? null;
        else errors.push(`camera: ${errorMessage(v.reason)}`);
      }
      if (errors.length === 0) errors.push(`${wantAudio ? 'microphone' : 'camera'}: ${errorMessage(error)}`);
    }
    if (this.closed || this.ended || this.phase === 'left') {
      audio?.stop();
      video?.stop();
      return;
    }
    if (audio) await this.useTrack('audio', audio);
    if (video) await this.useTrack('video', video);
    this.mediaError = errors.length > 0 && (!isLive(this.audioTrack) || !isLive(this.videoTrack)) ? errors.join('; ') : null;
    if (this.mediaError) this.notice({ level: 'warning', kind: 'media-failed', detail: this.mediaError });
    this.changed();
    await this.refreshDevices();
    // A retry after the join (e.g. permission granted late): produce now.
    if (this.partyId) this.queueProduce(this.epoch);
  }

  /**
   * Makes `track` the local track of its kind: keeps the mute state, swaps it
   * into the producer if there is one, stops the old track. Never rejects;
   * false (and the new track stopped) when the producer refused it.
   */
  private async useTrack(kind: MediaKind, track: MediaStreamTrack): Promise<boolean> {
    track.enabled = kind === 'audio' ? !this.micMuted : !this.cameraOff;
    const producer = this.producers.get(kind);
    if (producer && !producer.closed) {
      try {
        await producer.replaceTrack({ track });
      } catch (error) {
        track.stop();
        this.notice({ level: 'error', kind: 'device-failed', detail: errorMessage(error) });
        return false;
      }
    }
    if (this.closed) {
      track.stop();
      return false;
    }
    const old = kind === 'audio' ? this.audioTrack : this.videoTrack;
    const deviceId = track.getSettings().deviceId ?? '';
    if (kind === 'audio') {
      this.audioTrack = track;
      this.audioDeviceId = deviceId;
    } else {
      this.videoTrack = track;
      this.videoDeviceId = deviceId;
    }
    if (old && old !== track) old.stop();
    this.watchTrackEnded(track, kind);
    this.changed();
    return true;
  }

  private watchTrackEnded(track: MediaStreamTrack, kind: MediaKind): void {
    track.addEventListener('ended', () => {
      const current = kind === 'audio' ? this.audioTrack : this.videoTrack;
      if (current === track && !this.closed) {
        // Shown with the page's "retry camera/microphone" button.
        this.mediaError = `${kind === 'audio' ? 'microphone' : 'camera'}: device disconnected`;
        this.notice({ level: 'warning', kind: 'device-ended', detail: kind });
        void this.refreshDevices();
        this.changed();
      }
    });
  }

  private async refreshDevices(): Promise<void> {
    if (!navigator.mediaDevices?.enumerateDevices) return;
    try {
      const list = await navigator.mediaDevices.enumerateDevices();
      const pick = (kind: MediaDeviceKind, fallback: string): DeviceOption[] =>
        list
          .filter((d) => d.kind === kind && d.deviceId !== '')
          .map((d, i) => ({ deviceId: d.deviceId, label: d.label || `${fallback} ${i + 1}` }));
      this.devices = { audioInputs: pick('audioinput', 'Microphone'), videoInputs: pick('videoinput', 'Camera') };
      this.changed();
    } catch {
      // enumerateDevices can fail in odd contexts; the selects stay as they were.
    }
  }

  // -------------------------------------------------------------------------
  // Change notification and snapshot

  private notice(notice: SessionNotice): void {
    if (!this.closed) this.emit('notice', notice);
  }

  private changed(): void {
    this.cached = null;
    if (this.changeScheduled || this.closed) return;
    this.changeScheduled = true;
    queueMicrotask(() => {
      this.changeScheduled = false;
      if (!this.closed) this.emit('change');
    });
  }

  private buildSnapshot(): SessionSnapshot {
    const self = this.partyId ? this.parties.get(this.partyId) : undefined;
    const tiles = new Map<string, RemoteTileView>();
    const tileFor = (partyId: string, role: PartyRole, displayName: string): RemoteTileView => {
      let tile = tiles.get(partyId);
      if (!tile) {
        tile = {
          partyId,
          role,
          displayName,
          videoTrack: null,
          videoConsumerId: null,
          hasAudio: false,
          hasVideo: false,
          micPaused: false,
          cameraPaused: false,
        };
        tiles.set(partyId, tile);
      }
      return tile;
    };
    for (const party of this.parties.values()) {
      if (party.partyId !== this.partyId) tileFor(party.partyId, party.role, party.displayName);
    }
    for (const producer of this.remoteProducers.values()) {
      const party = this.parties.get(producer.partyId);
      const tile = tileFor(producer.partyId, producer.role, party?.displayName ?? '');
      if (producer.kind === 'audio') {
        tile.hasAudio = true;
        tile.micPaused = producer.paused;
      } else {
        tile.hasVideo = true;
        tile.cameraPaused = producer.paused;
      }
    }
    const audio: RemoteAudioView[] = [];
    for (const entry of this.consumers.values()) {
      if (entry === PENDING || entry.consumer.closed) continue;
      if (entry.kind === 'video') {
        const tile = tiles.get(entry.partyId);
        if (tile) {
          tile.videoTrack = entry.consumer.track;
          tile.videoConsumerId = entry.consumer.id;
        }
      } else {
        audio.push({ consumerId: entry.consumer.id, partyId: entry.partyId, track: entry.consumer.track });
      }
    }
    const states = [this.sendTransport, this.recvTransport]
      .filter((t): t is Transport => t !== null && !t.closed)
      .map((t) => t.connectionState);
    let media: SessionSnapshot['media'] = 'none';
    if (states.some((s) => s === 'failed' || s === 'disconnected')) media = 'unstable';
    else if (states.some((s) => s === 'new' || s === 'connecting')) media = 'connecting';
    else if (states.length > 0) media = 'connected';

    return {
      socket: this.socketState,
      phase: this.phase,
      joined: this.partyId !== null,
      joins: this.joinsOk,
      partyId: this.partyId,
      role: self?.role ?? this.ownRole,
      session: this.session,
      parties: [...this.parties.values()],
      tiles: [...tiles.values()].sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role]),
      audio,
      local: {
        audioTrack: this.audioTrack,
        videoTrack: this.videoTrack,
        micMuted: this.micMuted,
        cameraOff: this.cameraOff,
        audioDeviceId: this.audioDeviceId,
        videoDeviceId: this.videoDeviceId,
        mediaError: this.mediaError,
        sending: this.producers.size > 0,
      },
      devices: this.devices,
      media,
      fatal: this.fatal,
      ended: this.ended,
      lastConnectError: this.lastConnectError,
      windowEnding: this.windowEnding,
    };
  }
}

/** Performance marks (plea:*) for the join benchmark and for debugging in DevTools. */
function mark(name: string): void {
  try {
    performance.mark(`plea:${name}`);
  } catch {
    // marks are best effort
  }
}

function isLive(track: MediaStreamTrack | null): boolean {
  return track !== null && track.readyState === 'live';
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function audioConstraints(deviceId: string): MediaTrackConstraints {
  return {
    ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
    echoCancellation: true,
    noiseSuppression: true,
    autoGainControl: true,
  };
}

function videoConstraints(deviceId: string): MediaTrackConstraints {
  return {
    ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
    width: { ideal: 1280 },
    height: { ideal: 720 },
    frameRate: { ideal: 25, max: 30 },
  };
}

/** Installs window.__pleaSession for the headless tests and the join benchmark. */
export function installTestHooks(client: SessionClient): () => void {
  const hooks: PleaSessionTestHooks = {
    state: () => client.testState(),
    remoteStats: () => client.remoteStats(),
    localStats: () => client.localStats(),
    get joinedAtMs() {
      return client.joinedAtMs;
    },
    get firstRemoteFrameAtMs() {
      return client.firstRemoteFrameAtMs;
    },
    join: () => client.join(),
  };
  window.__pleaSession = hooks;
  return () => {
    if (window.__pleaSession === hooks) delete window.__pleaSession;
  };
}
