// The live sessions of the site, at most one open per room. The schedule opens
// and closes them (a booking reaching "in room"); in demo mode every room has a
// standing session. Persists every change through the session store.
import type { Config, RoomConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { TypedEmitter } from '../events.js';
import { WorkerPool, mediaCodecs } from '../media/worker-pool.js';
import { Session } from './session.js';
import type { SessionStore } from './session-store.js';
import type { SessionCloseReason } from './close-reason.js';
import { DomainError } from '../errors.js';

/** Decides whether a new session may open (e.g. the recording disk has room); null admits it. */
export type SessionAdmission = (roomId: string, bookingId: string | null) => { code: string; message: string } | null;

/** A session the site cannot take now, with the reason for staff. */
export class SessionRefused extends DomainError {
  constructor(code: string, message: string) {
    super(503, code, message);
  }
}

type RegistryEvents = { opened: [Session]; closed: [Session, SessionCloseReason] };

export class SessionRegistry extends TypedEmitter<RegistryEvents> {
  private readonly byRoom = new Map<string, Session>();
  private readonly opening = new Map<string, Promise<Session>>();
  private readonly rooms: Map<string, RoomConfig>;
  private admission: SessionAdmission = () => null;

  constructor(
    private readonly config: Config,
    private readonly pool: WorkerPool,
    private readonly store: SessionStore,
    private readonly log: Logger
  ) {
    super();
    this.rooms = new Map(config.site.rooms.map((r) => [r.id, r]));
  }

  /** One place decides whether new sessions may open (the recorder's disk reserve). */
  setAdmission(admission: SessionAdmission): void {
    this.admission = admission;
  }

  room(roomId: string): RoomConfig | undefined {
    return this.rooms.get(roomId);
  }

  forBooking(bookingId: string): Session | undefined {
    return this.list().find((s) => s.bookingId === bookingId);
  }

  forRoom(roomId: string): Session | undefined {
    return this.byRoom.get(roomId);
  }

  byId(sessionId: string): Session | undefined {
    return this.list().find((s) => s.id === sessionId);
  }

  list(): Session[] {
    return [...this.byRoom.values()];
  }

  /**
   * Opens the room's session; concurrent calls for one room share one open (a call with `within`
   * never shares: its step must be its own). `within` runs in the transaction that records the
   * session: if it throws, the session is not opened, nothing is recorded, and the error is thrown.
   */
  async open(roomId: string, bookingId: string | null, actor: string, within?: () => void): Promise<Session> {
    const pending = this.opening.get(roomId);
    if (pending) {
      const s = await pending.catch(() => undefined);
      if (s && s.bookingId === bookingId && !within) return s;
      throw new Error(`room ${roomId} already has an open session`);
    }
    const p = this.doOpen(roomId, bookingId, actor, within);
    this.opening.set(roomId, p);
    try {
      return await p;
    } finally {
      this.opening.delete(roomId);
    }
  }

  private async doOpen(roomId: string, bookingId: string | null, actor: string, within?: () => void): Promise<Session> {
    const room = this.rooms.get(roomId);
    if (!room) throw new Error(`unknown room ${roomId}`);
    const existing = this.byRoom.get(roomId);
    if (existing) {
      if (existing.bookingId === bookingId && !within) return existing;
      throw new Error(`room ${roomId} already has an open session`);
    }
    const refusal = this.admission(roomId, bookingId);
    if (refusal) {
      this.log.warn({ roomId, bookingId, code: refusal.code }, refusal.message);
      throw new SessionRefused(refusal.code, refusal.message);
    }
    const id = Session.newId();
    const router = await this.pool.createRouter(mediaCodecs, { sessionId: id, roomId });
    if (this.byRoom.has(roomId)) {
      router.close();
      throw new Error(`room ${roomId} already has an open session`);
    }
    // The record (and the caller's step) first: a session that cannot be recorded is never live.
    try {
      this.store.opened(id, roomId, bookingId, actor, within);
    } catch (err) {
      router.close();
      throw err;
    }
    const session = new Session(id, room, bookingId, router, {
      listenIp: this.config.media.listenIp,
      announcedAddress: this.config.media.announcedAddress,
      plainListenIp: this.config.media.plainListenIp,
    });
    this.byRoom.set(roomId, session);
    // A failed write of the record must not break the live session: log it loudly.
    const record = (what: string, write: () => void) => {
      try {
        write();
      } catch (err) {
        this.log.error({ err, sessionId: id }, `cannot record ${what}`);
      }
    };
    // The join's record is written before the party exists: if it fails, the join is refused (it throws).
    session.journal = (party, remoteAddress) => this.store.partyJoined(id, party.id, party.role, party.displayName, remoteAddress);
    session.on('party-left', (party, reason) => record('party left', () => this.store.partyLeft(id, party.id, reason)));
    session.once('closed', (reason) => {
      if (this.byRoom.get(roomId) === session) this.byRoom.delete(roomId);
      record('session closed', () => this.store.closed(id, reason, actor));
      this.log.info({ sessionId: id, roomId, reason }, 'session closed');
      this.emit('closed', session, reason);
    });
    this.log.info({ sessionId: id, roomId, bookingId }, 'session opened');
    this.emit('opened', session);
    return session;
  }

  /** The session store (for the schedule's steps, which record a close in their own transaction). */
  get records(): SessionStore {
    return this.store;
  }

  close(roomId: string, reason: SessionCloseReason): void {
    this.byRoom.get(roomId)?.close(reason);
  }

  closeAll(reason: SessionCloseReason): void {
    for (const s of this.list()) s.close(reason);
  }
}
