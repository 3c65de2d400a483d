// The Socket.io edge: authenticates each connection (a signed-in person's or a
// guest device's cookie for browsers, a standing demo session's join link,
// credential for room agents), checks every payload against its schema in
// protocol.ts, and calls into the session. Bad input gets an error reply and
// never reaches mediasoup unchecked; nothing a client sends can crash the server.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import type { Logger } from '../logger.js';
import { checker, type Checked, type Checker } from '../validation.js';
import type { JoinTokens, JoinClaims } from '../access/join-token.js';
import type { SessionRegistry } from '../session/session-registry.js';
import type { SessionStore } from '../session/session-store.js';
import type { Session } from '../session/session.js';
import { RequestError, type Party, type PartyIdentity } from '../session/party.js';
import type { JoinRules } from '../access/join-rules.js';
import type { GuestHolder, GuestLinks } from '../access/guest-links.js';
import type { PartyLeaveReason } from '../session/close-reason.js';
import { AuditUnavailableError, type AuditTrail } from '../audit/audit-trail.js';
import { AuditThrottle } from '../audit/audit-throttle.js';
import { actorOf, type Principal } from '../access/authorization.js';
import { clientAddress, trustFunction, type TrustProxy } from '../http/client-address.js';
import {
  HandshakeAuth,
  clientEventAccess,
  PartyAuth,
  AgentAuth,
  BoardAuth,
  PersonAuth,
  GuestAuth,
  clientEventSchemas,
  type ClientEventName,
  type ClientPayload,
  type ClientReply,
  type ClientToServerEvents,
  type ErrorCode,
  type PartyRole,
  type HealthReport,
  type Reply,
  type ServerToClientEvents,
  type AgentAlertReason,
} from './protocol.js';

type Person = Extract<Principal, { kind: 'user' }>;
/**
 * A browser party holds a signed-in person (whose bookings the join rules check),
 * a guest link bound to its device (one booking), or a join link's claims (a
 * standing demo session only: never a booking's).
 */
type SocketData =
  | { kind: 'party'; claims: JoinClaims; person: null; guest: null; remoteAddress: string }
  | { kind: 'party'; claims: null; person: Person; guest: null; remoteAddress: string }
  | { kind: 'party'; claims: null; person: null; guest: GuestHolder; remoteAddress: string }
  | { kind: 'agent'; roomId: string; remoteAddress: string }
  /** A member of staff's schedule board: listens only; signed in with the session cookie. */
  | { kind: 'board'; principal: Person; remoteAddress: string };
type IoServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
type IoSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

class SignallingError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

const checkers = Object.fromEntries(
  Object.entries(clientEventSchemas).map(([name, schema]) => [name, checker(schema)])
) as { [E in ClientEventName]: Checker<(typeof clientEventSchemas)[E]> };
const authCheckers = new Map<string, { check(value: unknown): Checked<HandshakeAuth> }>([
  ['party', checker(PartyAuth)],
  ['agent', checker(AgentAuth)],
  ['board', checker(BoardAuth)],
  ['person', checker(PersonAuth)],
  ['guest', checker(GuestAuth)],
]);
const anyAuthChecker = checker(HandshakeAuth);


export interface AgentStatus {
  online: boolean;
  connectedAt: string | null;
  health: HealthReport | null;
  healthAt: string | null;
}

export interface SignallingDeps {
  registry: SessionRegistry;
  store: SessionStore;
  tokens: JoinTokens;
  /** Room id → the room agent's credential, and the addresses it is bound to (every address when unbound). */
  agentCredentials: { get(roomId: string): string | undefined; addressAllowed?(roomId: string, address: string): boolean };
  audit: AuditTrail;
  /** The signed-in person a handshake's Cookie header names, or null. */
  personFromCookie(cookieHeader: string | undefined): Person | null;
  /** The guest link a handshake's Cookie header holds for its bound device, or null. */
  guestFromCookie(cookieHeader: string | undefined): GuestHolder | null;
  /** Guest links as they are now (checked on every join). */
  guestLinks: Pick<GuestLinks, 'current'>;
  /**
   * The person of a login session now, or null once it ended (signed out, expired,
   * idle, account disabled). `touch`: the socket counts as activity (a live hearing page).
   */
  personStill(loginSessionId: string, touch: boolean): Person | null;
  /** How often live signed-in sockets are re-checked (they are at once on a sign-out); default 15 s. */
  recheckSeconds?: number;
  /** Who may join which booking, until when. */
  joinRules: Pick<JoinRules, 'forPerson' | 'forGuest'>;
  log: Logger;
  /** Per-connection event rate and joins per minute (config limits). */
  limits?: { eventsPerSecond: number; eventBurst: number; joinsPerMinute: number };
  /** Origins besides the server's own whose pages may connect; connections without an Origin (room agents) are not browsers. */
  allowedOrigins?: readonly string[];
  /**
   * http.trustProxy: behind trusted proxies a connection's address comes from
   * X-Forwarded-For, derived exactly as Fastify derives request.ip (http/client-address.ts).
   */
  trustProxy?: TrustProxy;
  /** Whether room agents may send or receive plain RTP (config media.agentPlainRtp); otherwise SRTP only. */
  agentPlainRtp?: boolean;
  /** The site's time zone (the session clock is shown in it). */
  timeZone: string;
  /** The case number of a booking, for the room agent's evidence video. */
  caseNumberOf?: (bookingId: string) => string | null;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function normaliseIp(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

const defaultNames: ReadonlyMap<string, string> = new Map([['prosecutor', '检察官'], ['lawyer', '值班律师'], ['guest', '来宾'], ['room', '看守所房间']]);

export class Signalling {
  readonly io: IoServer;
  private readonly agents = new Map<string, AgentStatus>();
  private readonly refusals: AuditThrottle;
  /** Room id → the agent socket that holds the room's one agent connection. */
  private readonly agentSlots = new Map<string, { socketId: string; at: number }>();
  private readonly recheckTimer: NodeJS.Timeout;

  private readonly trust: ReturnType<typeof trustFunction>;

  constructor(httpServer: HttpServer, private readonly deps: SignallingDeps) {
    this.trust = trustFunction(deps.trustProxy);
    this.refusals = new AuditThrottle(deps.audit, { burst: 20, windowMs: 60_000 });
    this.io = new Server(httpServer, {
      serveClient: false,
      pingInterval: 5000,
      pingTimeout: 5000,
      maxHttpBufferSize: 256 * 1024,
      // No CORS; a browser page of another origin cannot open a connection (cross-site WebSocket hijacking).
      allowRequest: (req, callback) => {
        const origin = req.headers.origin;
        if (origin === undefined || this.originAllowed(origin, req.headers.host)) return callback(null, true);
        this.auditRefusedHandshake({}, `origin ${origin.slice(0, 100)} is not allowed`, clientAddress(req, this.trust));
        return callback('origin not allowed', false);
      },
    });
    // Every handshake is answered: a refusal with its reason, any unexpected
    // failure as a generic refusal, never an exception escaping the middleware.
    this.io.use((socket, next) => {
      let settled = false;
      const done = (err?: Error) => {
        if (settled) return;
        settled = true;
        next(err);
      };
      Promise.resolve()
        .then(() => this.authenticate(socket.handshake.auth, socket.handshake.headers.cookie, clientAddress(socket.request, this.trust)))
        .then(
          (outcome) => {
            const remoteAddress = clientAddress(socket.request, this.trust);
            if (!outcome.ok) {
              this.auditRefusedHandshake(socket.handshake.auth, outcome.reason, remoteAddress);
              if (outcome.alert) this.alertStaff(outcome.alert.roomId, outcome.alert.reason, remoteAddress);
              return done(new Error(outcome.reason));
            }
            // A room agent's connection is security-relevant: no audit entry, no connection.
            if (outcome.data.kind === 'agent') {
              // One agent per room: a second connection with the credential is refused while
              // the first is alive (it would otherwise evict the real agent). Audited as a refusal.
              const roomId = outcome.data.roomId;
              if (!this.claimAgentSlot(roomId, socket.id)) {
                const reason = `room ${roomId} already has a connected agent: a second connection with its credential is refused`;
                this.auditRefusedHandshake(socket.handshake.auth, reason, remoteAddress);
                deps.log.warn({ roomId, remoteAddress }, 'second agent connection refused');
                this.alertStaff(roomId, 'second_connection', remoteAddress);
                return done(new Error(reason));
              }
              try {
                deps.audit.record({ actor: `agent:${outcome.data.roomId}`, action: 'agent.connected', subject: `room:${outcome.data.roomId}`, detail: { remoteAddress } });
              } catch (err) {
                deps.log.error({ err }, 'cannot audit an agent connection: refused');
                this.releaseAgentSlot(roomId, socket.id);
                return done(new Error('the audit trail cannot be written: connection refused'));
              }
            }
            socket.data = outcome.data;
            return done();
          },
          (err: unknown) => {
            deps.log.error({ err }, 'handshake check failed');
            done(new Error('handshake refused'));
          }
        );
    });
    this.io.on('connection', (socket) => this.onConnection(socket));
    this.recheckTimer = setInterval(() => this.recheckPeople(), (deps.recheckSeconds ?? 15) * 1000);
    this.recheckTimer.unref();
    deps.registry.on('opened', (session) => this.io.to(`agent:${session.room.id}`).emit('agent:session', { sessionId: session.id }));
    deps.registry.on('closed', (session) => this.io.to(`agent:${session.room.id}`).emit('agent:session', { sessionId: null }));
  }

  /**
   * Takes the room's one agent slot for `socketId`; false when another agent socket of
   * the room holds it and is connected (or is still between its handshake and its
   * connection: a claim younger than a few seconds counts as alive).
   */
  private claimAgentSlot(roomId: string, socketId: string): boolean {
    const held = this.agentSlots.get(roomId);
    if (held && held.socketId !== socketId) {
      const holder = this.io.sockets.sockets.get(held.socketId);
      if (holder ? holder.connected : Date.now() - held.at < 5000) return false;
    }
    this.agentSlots.set(roomId, { socketId, at: Date.now() });
    return true;
  }

  private releaseAgentSlot(roomId: string, socketId: string): void {
    if (this.agentSlots.get(roomId)?.socketId === socketId) this.agentSlots.delete(roomId);
  }

  private originAllowed(origin: string, host: string | undefined): boolean {
    if (this.deps.allowedOrigins?.includes(origin)) return true;
    try {
      return host !== undefined && new URL(origin).host === host;
    } catch {
      return false;
    }
  }

  /**
   * Joins per join link (or room agent) across connections: a loop that opens a new
   * connection for every join with one link is held to the same budget as one connection.
   */
  private readonly linkJoins = new Map<string, TokenBucket>();

  private takeLinkJoin(key: string): boolean {
    const perMinute = this.deps.limits?.joinsPerMinute ?? 20;
    let bucket = this.linkJoins.get(key);
    if (!bucket) {
      if (this.linkJoins.size >= 10_000) this.linkJoins.clear();
      bucket = new TokenBucket(perMinute, perMinute / 60);
      this.linkJoins.set(key, bucket);
    }
    return bucket.take();
  }

  /** A refused handshake is audited (throttled per address, so a loop cannot flood the trail). */
  private auditRefusedHandshake(raw: unknown, reason: string, remoteAddress: string): void {
    const claimed = (name: string): string | undefined => {
      if (typeof raw !== 'object' || raw === null || !Object.hasOwn(raw, name)) return undefined;
      const v = (raw as Record<string, unknown>)[name];
      return typeof v === 'string' ? v.slice(0, 64) : undefined;
    };
    try {
      this.refusals.append(`handshake:${remoteAddress}`, {
        actor: 'anonymous',
        action: 'handshake.refused',
        subject: 'socket',
        detail: { reason, remoteAddress, kind: claimed('kind') ?? null, roomId: claimed('roomId') ?? null },
      });
    } catch (err) {
      this.deps.log.error({ err }, 'cannot audit a refused handshake');
    }
  }

  /** Checks a handshake's `auth`; every outside string is looked up in Maps only. */
  authenticate(raw: unknown, cookieHeader?: string, remoteAddress = ''): { ok: true; data: SocketData } | { ok: false; reason: string; alert?: { roomId: string; reason: AgentAlertReason } } {
    // The kind picks the schema, so the error names the field that is wrong.
    const kind = typeof raw === 'object' && raw !== null && Object.hasOwn(raw, 'kind') ? (raw as { kind: unknown }).kind : undefined;
    const checked = (typeof kind === 'string' ? authCheckers.get(kind) : undefined)?.check(raw) ?? anyAuthChecker.check(raw);
    if (!checked.ok) return { ok: false, reason: `bad handshake: ${checked.message}` };
    const auth = checked.value;
    if (auth.kind === 'board') {
      // The shared staff key of before accounts is refused whatever else comes with it: a page that still sends one is old.
      if (auth.key !== undefined) return { ok: false, reason: 'staff keys are no longer accepted: sign in at /login with your own account' };
      // A signed-in member of staff's board.
      const person = this.deps.personFromCookie(cookieHeader);
      if (!person) return { ok: false, reason: 'sign in first' };
      const refused = boardRefusal(person);
      if (refused) return { ok: false, reason: refused };
      return { ok: true, data: { kind: 'board', principal: person, remoteAddress } };
    }
    if (auth.kind === 'person') {
      const person = this.deps.personFromCookie(cookieHeader);
      if (!person) return { ok: false, reason: 'sign in first' };
      if (person.mustChangePassword) return { ok: false, reason: 'change your password first' };
      return { ok: true, data: { kind: 'party', claims: null, person, guest: null, remoteAddress } };
    }
    if (auth.kind === 'guest') {
      const guest = this.deps.guestFromCookie(cookieHeader);
      if (!guest) return { ok: false, reason: 'open your guest link and enter its code on this device first' };
      return { ok: true, data: { kind: 'party', claims: null, person: null, guest, remoteAddress } };
    }
    if (auth.kind === 'party') {
      const verdict = this.deps.tokens.verify(auth.token);
      if (!verdict.ok) return { ok: false, reason: verdict.reason };
      // A booking's session is joined by account or by guest link, never by a join link.
      if (verdict.claims.bookingId !== null) return { ok: false, reason: 'a join link does not join a booking\'s session: sign in, or open your guest link' };
      return { ok: true, data: { kind: 'party', claims: verdict.claims, person: null, guest: null, remoteAddress } };
    }
    const expected = this.deps.agentCredentials.get(auth.roomId);
    if (expected === undefined || !sameSecret(expected, auth.credential)) return { ok: false, reason: 'unknown room or wrong agent credential' };
    // The right credential from an address it is not bound to: refused, and staff are told.
    if (this.deps.agentCredentials.addressAllowed && !this.deps.agentCredentials.addressAllowed(auth.roomId, remoteAddress)) {
      return { ok: false, reason: `the agent credential of room ${auth.roomId} is bound to other addresses: refused from ${remoteAddress || 'an unknown address'}`, alert: { roomId: auth.roomId, reason: 'wrong_address' } };
    }
    return { ok: true, data: { kind: 'agent', roomId: auth.roomId, remoteAddress } };
  }

  /**
   * A guest link was revoked: its live party is told (party:left, reason 'revoked')
   * and removed at once, and its device's connections are closed.
   */
  removeGuest(linkId: string): void {
    for (const session of this.deps.registry.list()) {
      for (const p of session.partyList()) if (p.identity.personKey === `guest:${linkId}`) p.close('revoked');
    }
    for (const socket of this.io.sockets.sockets.values()) {
      if (socket.data.kind === 'party' && socket.data.guest?.linkId === linkId) socket.disconnect(true);
    }
  }

  /** Room+reason → when staff were last told, and how many alerts were held back since (a loop cannot flood the boards). */
  private readonly alerted = new Map<string, { at: number; held: number }>();

  /** Raises a refused room-agent connection to the staff boards (at most one alert per room and reason every 30 s). */
  private alertStaff(roomId: string, reason: AgentAlertReason, remoteAddress: string): void {
    const key = `${roomId}\n${reason}`;
    const last = this.alerted.get(key);
    const now = Date.now();
    if (last && now - last.at < 30_000) {
      last.held++;
      return;
    }
    if (this.alerted.size >= 1000) this.alerted.clear();
    this.alerted.set(key, { at: now, held: 0 });
    this.toBoards('agent:alert', { roomId, reason, remoteAddress, at: new Date(now).toISOString(), heldBack: last?.held ?? 0 });
  }

  /** Drops the room's live agent connection if its address is not allowed by the credential's binding (it was just changed). */
  enforceAgentAddress(roomId: string): void {
    const credentials = this.deps.agentCredentials;
    if (!credentials.addressAllowed) return;
    for (const s of this.io.sockets.sockets.values()) {
      if (s.data.kind === 'agent' && s.data.roomId === roomId && !credentials.addressAllowed(roomId, s.data.remoteAddress)) s.disconnect(true);
    }
  }

  /**
   * Re-checks the signed-in sockets (of one person, or all): one whose login session
   * ended (signed out, logged out everywhere, expired, idle, account disabled), or
   * whose person may no longer use it (a board without the staff role), is
   * disconnected. Runs at every sign-out and account change, and every few seconds.
   */
  recheckPeople(userId?: string): void {
    for (const socket of this.io.sockets.sockets.values()) {
      const data = socket.data as SocketData | undefined;
      const person = data?.kind === 'board' ? data.principal : data?.kind === 'party' ? data.person : null;
      if (!data || !person || (userId !== undefined && person.userId !== userId)) continue;
      let why: string | null;
      try {
        // A hearing page in use keeps its login session alive; an open board alone does not.
        const now = this.deps.personStill(person.loginSessionId, data.kind === 'party');
        why = !now ? 'signed out' : data.kind === 'board' ? boardRefusal(now) : now.mustChangePassword ? 'change your password first' : null;
        if (now && !why && data.kind === 'board') data.principal = now;
      } catch (err) {
        this.deps.log.error({ err }, 'cannot re-check a signed-in socket');
        continue;
      }
      if (!why) continue;
      this.deps.log.info({ socket: socket.id, user: person.username, kind: data.kind, why }, 'signed-in socket ended');
      socket.disconnect(true);
    }
  }

  /** Drops the room's agent connection (its credential was rotated or revoked). */
  disconnectAgent(roomId: string): void {
    this.io.to(`agent:${roomId}`).disconnectSockets(true);
  }

  agentStatus(roomId: string): AgentStatus {
    return this.agents.get(roomId) ?? { online: false, connectedAt: null, health: null, healthAt: null };
  }

  close(): Promise<void> {
    clearInterval(this.recheckTimer);
    try {
      this.refusals.flush();
    } catch (err) {
      this.deps.log.error({ err }, 'cannot write the suppressed refusal counts');
    }
    return new Promise((resolve) => {
      this.io.close(() => resolve());
    });
  }

  /** Pushes to every open schedule board. */
  toBoards<E extends 'schedule:changed' | 'schedule:notice' | 'recording:disk' | 'agent:alert'>(event: E, ...args: Parameters<ServerToClientEvents[E]>): void {
    (this.io.to('boards').emit as (ev: string, ...a: unknown[]) => boolean)(event, ...args);
  }

  private onConnection(socket: IoSocket): void {
    const data = socket.data;
    // A board only listens: the event table admits no event from it.
    if (data.kind === 'board') void socket.join('boards');
    const log = this.deps.log.child({ socket: socket.id, who: whoOf(data) });
    const conn = new Connection(socket, this.deps, log, this.refusals, (key) => this.takeLinkJoin(key));
    if (socket.data.kind === 'agent') {
      const roomId = socket.data.roomId;
      void socket.join(`agent:${roomId}`);
      this.agents.set(roomId, { online: true, connectedAt: new Date().toISOString(), health: null, healthAt: null });
      const session = this.deps.registry.forRoom(roomId);
      socket.emit('agent:session', { sessionId: session ? session.id : null });
      conn.onHealth = (report) => {
        this.agents.set(roomId, { ...this.agentStatus(roomId), online: true, health: report, healthAt: new Date().toISOString() });
        this.deps.store.agentHealth(roomId, report);
      };
      socket.on('disconnect', () => {
        this.releaseAgentSlot(roomId, socket.id);
        // Another connection of the same room may have replaced this one already.
        const stillConnected = [...this.io.sockets.sockets.values()].some((s) => s.id !== socket.id && s.data.kind === 'agent' && s.data.roomId === roomId);
        if (!stillConnected) this.agents.set(roomId, { ...this.agentStatus(roomId), online: false });
      });
    }
    log.debug('connected');
  }
}

/** Why a signed-in person may not hold a schedule board, or null. */
function boardRefusal(person: Person): string | null {
  if (person.mustChangePassword) return 'change your password first';
  if (!person.roles.includes('detention_staff')) return 'the schedule board is for detention-centre staff';
  return null;
}

/** A join link's holder: the link's signature (never logged), hashed. */
function linkKey(auth: unknown): string {
  const token = typeof auth === 'object' && auth !== null && Object.hasOwn(auth, 'token') ? (auth as { token: unknown }).token : '';
  return createHash('sha256').update(typeof token === 'string' ? token : '').digest('hex').slice(0, 32);
}

function joinSubject(data: SocketData, bookingId: string | undefined): string {
  if (data.kind === 'agent') return `room:${data.roomId}`;
  if (data.kind === 'board') return 'board';
  if (data.guest) return `booking:${data.guest.bookingId}`;
  if (data.claims) return data.claims.bookingId !== null ? `booking:${data.claims.bookingId}` : `room:${data.claims.roomId}`;
  return bookingId ? `booking:${bookingId}` : 'booking:?';
}

function whoOf(data: SocketData): string {
  if (data.kind === 'agent') return `agent:${data.roomId}`;
  if (data.kind === 'party') return data.person ? `user:${data.person.username}` : data.guest ? `guest:${data.guest.linkId}` : `party:${data.claims.role}`;
  return `board:${actorOf(data.principal)}`;
}

/** A token bucket: `capacity` at once, refilled at `perSecond`. */
class TokenBucket {
  private tokens: number;
  private at = Date.now();
  constructor(private readonly capacity: number, private readonly perSecond: number) {
    this.tokens = capacity;
  }
  take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.at) / 1000) * this.perSecond);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** One socket's state: the party it joined as, if any. */
class Connection {
  private party: Party | null = null;
  private session: Session | null = null;
  private readonly unsubscribe: Array<() => void> = [];
  onHealth: ((report: HealthReport) => void) | null = null;
  private readonly rate: TokenBucket;
  private readonly joins: TokenBucket;

  constructor(
    private readonly socket: IoSocket,
    private readonly deps: SignallingDeps,
    private readonly log: Logger,
    private readonly refusals: AuditThrottle,
    /** Counts a join against its link's budget (shared by every connection of the link); false when spent. */
    private readonly takeLinkJoin: (key: string) => boolean
  ) {
    const limits = deps.limits ?? { eventsPerSecond: 50, eventBurst: 200, joinsPerMinute: 20 };
    this.rate = new TokenBucket(limits.eventBurst, limits.eventsPerSecond);
    this.joins = new TokenBucket(limits.joinsPerMinute, limits.joinsPerMinute / 60);
    this.handle('session:join', (p) => this.join(p.bookingId));
    // The room's name is the agent's display name, whatever it sends.
    this.handle('agent:join', () => {
      const joined = this.join(undefined);
      const session = this.session!;
      const caseNumber = session.bookingId ? deps.caseNumberOf?.(session.bookingId) ?? null : null;
      return {
        partyId: joined.partyId,
        session: joined.session,
        clock: { serverTimeMs: Date.now(), sessionOpenedAt: session.openedAt.toISOString(), timeZone: deps.timeZone },
        evidence: session.bookingId && caseNumber !== null ? { bookingId: session.bookingId, caseNumber, roomName: session.room.name } : null,
      };
    });
    this.handle('session:leave', () => {
      this.leave('left');
      return {};
    });
    this.handle('transport:create', async (p) => this.joined().party.createWebRtcTransport(p.direction));
    this.handle('transport:connect', async (p) => {
      await this.joined().party.connectTransport(p.transportId, p.dtlsParameters);
      return {};
    });
    this.handle('transport:restart-ice', async (p) => ({ iceParameters: await this.joined().party.restartIce(p.transportId) }));
    this.handle('producer:create', async (p) => ({
      producerId: await this.joined().party.produce(p.transportId, p.kind, p.source, p.rtpParameters),
    }));
    this.handle('producer:pause', async (p) => {
      await this.joined().party.setProducerPaused(p.producerId, true);
      return {};
    });
    this.handle('producer:resume', async (p) => {
      await this.joined().party.setProducerPaused(p.producerId, false);
      return {};
    });
    this.handle('producer:close', (p) => {
      this.joined().party.closeProducer(p.producerId);
      return {};
    });
    this.handle('consumer:create', async (p) => this.joined().party.consume(p.producerId, p.transportId, p.rtpCapabilities));
    this.handle('consumer:resume', async (p) => {
      await this.joined().party.resumeConsumer(p.consumerId);
      return {};
    });
    this.handle('agent:health', (report) => {
      this.onHealth?.(report);
      return {};
    });
    this.handle('agent:publish', async (p) => {
      if (p.tracks.some((t) => t.srtpKey === undefined)) this.plainRtp('agent:publish');
      return { targets: await this.joined().party.publishPlain(p.tracks, socket.data.remoteAddress) };
    });
    this.handle('agent:consume', async (p) => {
      // Media goes only to the agent's own host.
      const peer = socket.data.remoteAddress;
      if (normaliseIp(p.ip) !== peer) throw new SignallingError('forbidden', `media may only be sent to the agent's own address ${peer}`);
      if (p.srtpKey === undefined) this.plainRtp('agent:consume');
      return this.joined().party.consumePlain(p.producerId, p.ip, p.port, p.rtcpPort, p.srtpKey);
    });
    socket.onAny((event: string, ...args: unknown[]) => {
      if (Object.hasOwn(clientEventSchemas, event)) return;
      const ack = args[args.length - 1];
      if (typeof ack === 'function') (ack as (r: Reply<never>) => void)({ ok: false, error: { code: 'bad_request', message: `unknown event ${event}` } });
    });
    socket.on('disconnect', () => this.leave('disconnected'));
  }

  private handle<E extends ClientEventName>(event: E, fn: (payload: ClientPayload<E>) => Promise<ClientReply<E>> | ClientReply<E>): void {
    const check = checkers[event];
    const on = this.socket.on.bind(this.socket) as unknown as (ev: string, listener: (...args: unknown[]) => void) => void;
    on(event, (...args: unknown[]) => {
      const last = args[args.length - 1];
      const ack = typeof last === 'function' ? (last as (r: Reply<ClientReply<E>>) => void) : null;
      const reply = (r: Reply<ClientReply<E>>): void => {
        if (ack) ack(r);
      };
      if (!this.rate.take()) {
        this.refusedRate(event);
        return reply({ ok: false, error: { code: 'limit_reached', message: `${event}: too many events on this connection; slow down` } });
      }
      // The one enforcement point for events: the rule declared in protocol.ts.
      const data = this.socket.data;
      const rule = clientEventAccess[event];
      if (!(rule.from as readonly string[]).includes(data.kind)) {
        this.refused(event, `not for ${data.kind} connections`);
        return reply({ ok: false, error: { code: 'forbidden', message: `${event} is not for ${data.kind} connections` } });
      }
      const checked = check.check(args.length > (ack ? 1 : 0) ? args[0] : undefined);
      if (!checked.ok) return reply({ ok: false, error: { code: 'bad_request', message: `${event}: ${checked.message}` } });
      if (rule.joined && (!this.party || this.party.closed)) return reply({ ok: false, error: { code: 'not_joined', message: 'join the session first' } });
      Promise.resolve()
        .then(() => fn(checked.value as ClientPayload<E>))
        .then(
          (result) => reply({ ok: true, data: result }),
          (err: unknown) => reply({ ok: false, error: this.describe(event, err) })
        )
        // Nothing may escape as an unhandled rejection, even a failing reply.
        .catch((err: unknown) => this.log.error({ err, event }, 'cannot answer an event'));
    });
  }

  /** Media to and from a room is SRTP; plain RTP only where the site switched it on (media.agentPlainRtp). */
  private plainRtp(event: 'agent:publish' | 'agent:consume'): void {
    if (!this.deps.agentPlainRtp) {
      this.refused(event, 'plain RTP is off on this server: room media is SRTP');
      throw new SignallingError('forbidden', `${event}: plain RTP is not allowed on this server; send an SRTP key (media.agentPlainRtp is off)`);
    }
    this.log.warn({ event }, 'room media over plain RTP (media.agentPlainRtp is on): unencrypted on the network');
  }

  private refusedRate(event: string): void {
    const remoteAddress = this.socket.data.remoteAddress;
    try {
      this.refusals.append(`rate:${remoteAddress}`, { actor: whoOf(this.socket.data), action: 'limit.refused', subject: `event:${event}`, detail: { why: 'event rate', remoteAddress } });
    } catch (err) {
      this.log.error({ err }, 'cannot audit a rate refusal');
    }
  }

  private refused(event: string, why: string): void {
    const data = this.socket.data;
    try {
      this.deps.audit.append({
        actor: whoOf(data),
        action: 'access.refused',
        subject: `event:${event}`,
        detail: { why, remoteAddress: this.socket.data.remoteAddress },
      });
    } catch (err) {
      this.log.error({ err }, 'cannot audit a refused event');
    }
    this.log.info({ event, why }, 'event refused');
  }

  private describe(event: string, err: unknown): { code: ErrorCode; message: string } {
    if (err instanceof RequestError || err instanceof SignallingError) return { code: err.code, message: err.message };
    if (err instanceof AuditUnavailableError) return { code: 'unavailable', message: `${event} refused: ${err.message}` };
    const e = err as Error;
    // mediasoup rejects bad parameters with TypeError / UnsupportedError.
    if (e && (e.name === 'TypeError' || e.name === 'UnsupportedError')) return { code: 'bad_request', message: `${event}: ${e.message}` };
    // The entity went away meanwhile (its party left, its producer closed).
    if (e && (e.name === 'InvalidStateError' || /^Channel request handler with ID .* not found/.test(e.message ?? ''))) return { code: 'not_found', message: `${event}: ${e.message}` };
    this.log.error({ err, event }, 'signalling handler failed');
    return { code: 'internal', message: `${event} failed` };
  }

  private joined(): { party: Party; session: Session } {
    if (!this.party || !this.session || this.party.closed) throw new SignallingError('not_joined', 'join the session first');
    return { party: this.party, session: this.session };
  }

  /** Joins; a refused join is audited (throttled per address) and answered. */
  private join(bookingId: string | undefined) {
    try {
      return this.joinSession(bookingId);
    } catch (err) {
      if ((err instanceof SignallingError && err.code !== 'already_joined') || err instanceof RequestError) {
        const remoteAddress = this.socket.data.remoteAddress;
        try {
          this.refusals.append(`join:${remoteAddress}`, {
            actor: whoOf(this.socket.data),
            action: 'join.refused',
            subject: joinSubject(this.socket.data, bookingId),
            detail: { code: err.code, why: err.message, remoteAddress },
          });
        } catch (auditErr) {
          this.log.error({ err: auditErr }, 'cannot audit a refused join');
        }
      }
      throw err;
    }
  }

  private joinSession(bookingId: string | undefined) {
    if (this.party && !this.party.closed) throw new SignallingError('already_joined', 'already joined');
    if (!this.joins.take()) throw new SignallingError('limit_reached', 'too many joins on this connection; wait a minute');
    const data = this.socket.data;
    // The join budget per link (or per signed-in person) across connections.
    const budgetKey =
      data.kind === 'agent' ? `agent:${data.roomId}` : data.kind === 'party' ? (data.person ? `user:${data.person.userId}` : data.guest ? `guest:${data.guest.linkId}` : `party:${JSON.stringify(data.claims)}`) : null;
    if (budgetKey && !this.takeLinkJoin(budgetKey)) throw new SignallingError('limit_reached', 'too many joins with this link; wait a minute');
    if (data.kind === 'board') throw new SignallingError('forbidden', 'a board does not join sessions');
    let session: Session | undefined;
    let role: PartyRole;
    let name: string;
    let identity: PartyIdentity;
    if (data.kind === 'agent') {
      session = this.deps.registry.forRoom(data.roomId);
      if (!session) throw new SignallingError('no_session', 'no session is open for this room now');
      // A room has one agent: a restarted agent replaces its stale party.
      for (const p of session.partyList()) if (p.role === 'room') p.close('replaced');
      role = 'room';
      name = session.room.name;
      identity = { personKey: null, remoteAddress: data.remoteAddress, until: null };
    } else if (data.person) {
      // Joining is personal: the join rules say whether this person is booked on it, and until when.
      if (!bookingId) throw new SignallingError('bad_request', 'session:join: bookingId is required for a signed-in person');
      const verdict = this.deps.joinRules.forPerson(data.person, bookingId);
      if (!verdict.ok) throw new SignallingError(verdict.code, verdict.message);
      session = this.deps.registry.forBooking(bookingId);
      if (!session) throw new SignallingError('no_session', 'the session of this booking is not open yet');
      role = verdict.right.role;
      name = verdict.right.displayName;
      identity = { personKey: verdict.right.personKey, remoteAddress: data.remoteAddress, until: verdict.right.until };
    } else if (data.guest) {
      // A guest link joins its booking only, inside its window, while it is neither revoked nor locked: checked now, on every join.
      const verdict = this.deps.joinRules.forGuest(this.deps.guestLinks.current(data.guest.linkId), bookingId);
      if (!verdict.ok) throw new SignallingError(verdict.code, verdict.message);
      session = this.deps.registry.forBooking(verdict.right.bookingId);
      if (!session) throw new SignallingError('no_session', 'the session of this booking is not open yet');
      role = verdict.right.role;
      name = verdict.right.displayName;
      // One live party per guest link: its own device rejoining (after a network drop) replaces its stale party.
      identity = { personKey: verdict.right.personKey, remoteAddress: data.remoteAddress, until: verdict.right.until };
    } else {
      const claims = data.claims;
      // The link's window is checked on every join, not only at the handshake.
      const now = Date.now();
      if (now < claims.nbf || now > claims.exp) {
        throw new SignallingError('forbidden', now > claims.exp ? 'this join link has expired' : 'this join link is not valid yet');
      }
      // A join link joins only a standing (demo) session, never a booking's hearing.
      if (claims.bookingId !== null) throw new SignallingError('forbidden', 'a join link does not join a booking\'s session');
      session = this.deps.registry.forRoom(claims.roomId);
      if (!session) throw new SignallingError('no_session', 'no session is open for this room now');
      if (session.bookingId !== null || bookingId !== undefined) throw new SignallingError('forbidden', 'a join link does not join a booking\'s session');
      role = claims.role;
      name = claims.displayName ?? defaultNames.get(role) ?? role;
      // One device at a time per link: a second join with the same link replaces the first.
      identity = { personKey: `link:${linkKey(this.socket.handshake.auth)}`, remoteAddress: data.remoteAddress, until: new Date(claims.exp) };
    }
    let party: Party;
    try {
      party = session.addParty(role, name, identity);
    } catch (err) {
      if (err instanceof AuditUnavailableError) throw new SignallingError('unavailable', 'the join cannot be recorded in the audit trail, so it is refused');
      throw err;
    }
    this.party = party;
    this.session = session;
    this.bind(session, party);
    this.log.info({ sessionId: session.id, partyId: party.id, role }, 'party joined');
    return { partyId: party.id, session: session.view(), routerRtpCapabilities: session.router.rtpCapabilities as unknown as ClientReply<'session:join'>['routerRtpCapabilities'] };
  }



  private bind(session: Session, party: Party): void {
    const s = this.socket;
    const self = party.id;
    const listeners = {
      partyJoined: (p: Party) => p.id !== self && s.emit('party:joined', p.view()),
      partyLeft: (p: Party, reason: PartyLeaveReason) => {
        if (p.id === self) {
          // Closed from elsewhere (session closing, replaced): the socket stays, the party is gone.
          this.release();
          if (session.closed) s.emit('session:closed', { sessionId: session.id, reason: session.closeReason ?? 'server_stopping' });
          else s.emit('party:left', { partyId: p.id, reason });
          return;
        }
        s.emit('party:left', { partyId: p.id, reason });
      },
      added: (p: Parameters<ServerToClientEvents['producer:added']>[0]) => p.partyId !== self && s.emit('producer:added', p),
      removed: (p: { producerId: string; partyId: string }) => p.partyId !== self && s.emit('producer:removed', p),
      paused: (p: { producerId: string; partyId: string }) => p.partyId !== self && s.emit('producer:paused', p),
      resumed: (p: { producerId: string; partyId: string }) => p.partyId !== self && s.emit('producer:resumed', p),
      consumerClosed: (c: { consumerId: string; producerId: string }) => s.emit('consumer:closed', c),
      windowEnding: (w: { removeAt: Date }) => s.emit('party:window-ending', { partyId: self, removeAt: w.removeAt.toISOString() }),
    };
    session.on('party-joined', listeners.partyJoined);
    session.on('party-left', listeners.partyLeft);
    session.on('producer-added', listeners.added);
    session.on('producer-removed', listeners.removed);
    session.on('producer-paused', listeners.paused);
    session.on('producer-resumed', listeners.resumed);
    party.on('consumer-closed', listeners.consumerClosed);
    party.on('window-ending', listeners.windowEnding);
    this.unsubscribe.push(() => {
      session.off('party-joined', listeners.partyJoined);
      session.off('party-left', listeners.partyLeft);
      session.off('producer-added', listeners.added);
      session.off('producer-removed', listeners.removed);
      session.off('producer-paused', listeners.paused);
      session.off('producer-resumed', listeners.resumed);
      party.off('consumer-closed', listeners.consumerClosed);
      party.off('window-ending', listeners.windowEnding);
    });
  }

  private release(): void {
    for (const u of this.unsubscribe.splice(0)) u();
    this.party = null;
    this.session = null;
  }

  private leave(reason: PartyLeaveReason): void {
    const party = this.party;
    this.release();
    party?.close(reason);
  }
}
