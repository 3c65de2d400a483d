// REST and Socket.io of the staff day board. Shapes come from the server's
// TypeBox schemas (types only: nothing from server/ is bundled). No Vue here.
import type { Static } from 'typebox';
import { io, type Socket } from 'socket.io-client';
import type {
  BookingView,
  CreateBookingRequest as CreateBookingRequestSchema,
  DayView,
  LiveStatus,
  PlaceOutcome,
  Placement as PlacementSchema,
  PriorityClass as PriorityClassSchema,
  RejectReason as RejectReasonSchema,
  SessionKind as SessionKindSchema,
  LawyerRole as LawyerRoleSchema,
  AffectedBooking as AffectedBookingSchema,
  AffectedChoice as AffectedChoiceSchema,
} from '../../../server/schedule/schedule-api';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../server/signalling/protocol';
import { TypedEmitter } from '../session/emitter';
import type { GuestLink, GuestLinkApi, GuestLinks } from '../guest/guest-client';

export type Day = Static<typeof DayView>;
export type Booking = Static<typeof BookingView>;
export type BookingStatus = Static<typeof LiveStatus>;
export type Room = Day['rooms'][number];
export type CapacityBlock = Day['capacity']['blocks'][number];
export type CreateBookingRequest = Static<typeof CreateBookingRequestSchema>;
export type CheckOutcome = Static<typeof PlaceOutcome>;
export type Placement = Static<typeof PlacementSchema>;
export type RejectReason = Static<typeof RejectReasonSchema>;
export type PriorityClass = Static<typeof PriorityClassSchema>;
export type SessionKind = Static<typeof SessionKindSchema>;
export type LawyerRole = Static<typeof LawyerRoleSchema>;
export type AffectedBooking = Static<typeof AffectedBookingSchema>;
export type AffectedChoice = Static<typeof AffectedChoiceSchema>;
export type StepStatus = 'escorting' | 'in_room' | 'finished' | 'scheduled';

export interface HistoryEntry {
  seq: number;
  at: string;
  actor: string;
  action: string;
  note: string | null;
}
export interface NoticeEntry {
  at: string;
  recipient: string;
  message: string;
}
export interface BookingDetail {
  booking: Booking;
  history: HistoryEntry[];
  notices: NoticeEntry[];
}
export interface OverrunResult {
  booking: Booking;
  changed: Array<{ bookingId: string; before: Placement; after: Placement }>;
  displaced: string[];
}

export const PRIORITY_CLASSES: readonly PriorityClass[] = ['district', 'higher', 'sibling'];
export const SESSION_KINDS: readonly SessionKind[] = ['arraignment', 'plea_hearing', 'bail_hearing'];
export const LAWYER_ROLES: readonly LawyerRole[] = ['duty', 'defence'];
export const STATUSES: readonly BookingStatus[] = ['scheduled', 'escorting', 'in_room', 'in_session', 'finished', 'no_show', 'cancelled', 'displaced'];

/** What staff may do with a booking in each status (mirrors the server's rules). */
export interface AllowedActions {
  steps: StepStatus[];
  noShow: boolean;
  cancel: boolean;
  move: boolean;
  overrun: boolean;
}
export function allowedActions(status: BookingStatus): AllowedActions {
  switch (status) {
    case 'scheduled':
      return { steps: ['escorting', 'in_room'], noShow: true, cancel: true, move: true, overrun: true };
    case 'escorting':
      return { steps: ['in_room', 'scheduled'], noShow: true, cancel: true, move: false, overrun: true };
    case 'in_room':
      return { steps: ['finished', 'escorting'], noShow: true, cancel: false, move: false, overrun: true };
    case 'in_session':
      return { steps: ['finished'], noShow: false, cancel: false, move: false, overrun: true };
    case 'displaced':
      return { steps: [], noShow: false, cancel: true, move: true, overrun: false };
    default:
      return { steps: [], noShow: false, cancel: false, move: false, overrun: false };
  }
}

/** The one next step of the live status (the queue's quick action), if any. */
export function nextStep(status: BookingStatus): StepStatus | null {
  switch (status) {
    case 'scheduled':
      return 'escorting';
    case 'escorting':
      return 'in_room';
    case 'in_room':
    case 'in_session':
      return 'finished';
    default:
      return null;
  }
}

/** Statuses that hold the room (drawn solid; the others are drawn faint or outlined). */
export function isHolding(status: BookingStatus): boolean {
  return status === 'scheduled' || status === 'escorting' || status === 'in_room' || status === 'in_session' || status === 'finished';
}

// ---------------------------------------------------------------------------
// REST

/** A refused request: `code` is the server's error code ('conflict', 'wrong_status', 'bad_request', …). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly reason: RejectReason | null;
  readonly alternatives: Placement[];
  /** With code 'affects_live_bookings': the live bookings the refused change would affect. */
  readonly affected: AffectedBooking[];
  constructor(status: number, code: string, message: string, reason: RejectReason | null = null, alternatives: Placement[] = [], affected: AffectedBooking[] = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.reason = reason;
    this.alternatives = alternatives;
    this.affected = affected;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** The signed-in person, as GET /api/auth/me tells. */
export interface SignedInUser {
  id: string;
  username: string;
  displayName: string;
  roles: string[];
  mustChangePassword: boolean;
}

/**
 * The board's REST. The member of staff is signed in: the browser sends the
 * session cookie; every write carries the login session's CSRF token (from
 * GET /api/auth/me). A 401 means signed out: the page goes to /login.
 */
export class ScheduleClient {
  private csrfToken = '';

  private async call<T>(method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (method !== 'GET' && this.csrfToken) headers['x-csrf-token'] = this.csrfToken;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(url, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(signal ? { signal } : {}),
    });
    let payload: unknown = null;
    const text = await response.text();
    if (text) {
      try {
        payload = JSON.parse(text) as unknown;
      } catch {
        payload = null;
      }
    }
    if (!response.ok) {
      const p = isObject(payload) ? payload : {};
      throw new ApiError(
        response.status,
        typeof p.error === 'string' ? p.error : 'http',
        typeof p.message === 'string' ? p.message : `${method} ${url}: HTTP ${response.status}`,
        typeof p.reason === 'string' ? (p.reason as RejectReason) : null,
        Array.isArray(p.alternatives) ? (p.alternatives as Placement[]) : [],
        Array.isArray(p.affected) ? (p.affected as AffectedBooking[]) : []
      );
    }
    return payload as T;
  }

  /** Who is signed in (and the CSRF token for writes); rejects with status 401 when nobody is. */
  async me(): Promise<SignedInUser> {
    const r = await this.call<{ user: SignedInUser; csrfToken: string }>('GET', '/api/auth/me');
    this.csrfToken = r.csrfToken;
    return r.user;
  }

  /** Signs out here (`everywhere`: every login session of the person); the board's socket ends with it. */
  async signOut(everywhere = false): Promise<void> {
    await this.call('POST', everywhere ? '/api/auth/logout-everywhere' : '/api/auth/logout');
    this.csrfToken = '';
  }

  day(date: string | null, signal?: AbortSignal): Promise<Day> {
    return this.call<Day>('GET', date ? `/api/schedule/day?date=${encodeURIComponent(date)}` : '/api/schedule/day', undefined, signal);
  }

  check(request: CreateBookingRequest, signal?: AbortSignal): Promise<CheckOutcome> {
    return this.call<CheckOutcome>('POST', '/api/bookings/check', request, signal);
  }

  create(request: CreateBookingRequest): Promise<Booking> {
    return this.call<Booking>('POST', '/api/bookings', request);
  }

  /** With dryRun, nothing is stored: resolves with where it would go, or rejects with the conflict. */
  move(id: string, to: { start: number; roomId?: string; date?: string; dryRun?: boolean }, signal?: AbortSignal): Promise<Booking> {
    return this.call<Booking>('POST', `/api/bookings/${encodeURIComponent(id)}/move`, to, signal);
  }

  // With `version` (the booking's version the board showed), a step is a compare-and-set: if the
  // booking changed meanwhile, it is refused with code 'status_changed' naming what it is now.
  cancel(id: string, note?: string, version?: number): Promise<Booking> {
    return this.call<Booking>('POST', `/api/bookings/${encodeURIComponent(id)}/cancel`, { ...(note ? { note } : {}), ...(version ? { version } : {}) });
  }

  noShow(id: string, note?: string, version?: number): Promise<Booking> {
    return this.call<Booking>('POST', `/api/bookings/${encodeURIComponent(id)}/no-show`, { ...(note ? { note } : {}), ...(version ? { version } : {}) });
  }

  step(id: string, status: StepStatus, version?: number): Promise<Booking> {
    return this.call<Booking>('POST', `/api/bookings/${encodeURIComponent(id)}/status`, { status, ...(version ? { version } : {}) });
  }

  overrun(id: string, newEnd: number): Promise<OverrunResult> {
    return this.call<OverrunResult>('POST', `/api/bookings/${encodeURIComponent(id)}/overrun`, { newEnd });
  }

  detail(id: string, signal?: AbortSignal): Promise<BookingDetail> {
    return this.call<BookingDetail>('GET', `/api/bookings/${encodeURIComponent(id)}`, undefined, signal);
  }

  /** A booking's guest links (state only; staff list and revoke them, never issue: that would let staff watch). */
  guestLinks(id: string, signal?: AbortSignal): Promise<GuestLinks> {
    return this.call<GuestLinks>('GET', `/api/bookings/${encodeURIComponent(id)}/guest-links`, undefined, signal);
  }

  revokeGuestLink(id: string, linkId: string): Promise<GuestLink> {
    return this.call<GuestLink>('POST', `/api/bookings/${encodeURIComponent(id)}/guest-links/${encodeURIComponent(linkId)}/revoke`);
  }

  /** The guest-links panel's view of this client. */
  guestLinkApi(): GuestLinkApi {
    return { list: (id, signal) => this.guestLinks(id, signal), revoke: (id, linkId) => this.revokeGuestLink(id, linkId) };
  }

  /** `refuse` (default): rejects with code 'affects_live_bookings' and the list; `apply`: moves or flags them. */
  setRoomStatus(roomId: string, status: Room['status'], affected: AffectedChoice = 'refuse'): Promise<{ id: string; status: string; affected: AffectedBooking[] }> {
    return this.call('PUT', `/api/rooms/${encodeURIComponent(roomId)}/status`, { status, affected });
  }
}

// ---------------------------------------------------------------------------
// Live pushes

export type FeedState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';
export type ScheduleChange = Parameters<ServerToClientEvents['schedule:changed']>[0];
export type ScheduleNotice = Parameters<ServerToClientEvents['schedule:notice']>[0];
export type DiskNotice = Parameters<ServerToClientEvents['recording:disk']>[0];
export type AgentAlertNotice = Parameters<ServerToClientEvents['agent:alert']>[0];

type FeedEvents = {
  /** The socket (re)connected: whatever was missed meanwhile must be fetched again. */
  connected: [{ reconnect: boolean }];
  state: [FeedState];
  changed: [ScheduleChange];
  notice: [ScheduleNotice];
  /** The recording disk crossed its reserve (new sessions refused) or recovered. */
  disk: [DiskNotice];
  /** A room agent's connection was refused as a possible impostor (second connection, or a bound credential used elsewhere). */
  agentAlert: [AgentAlertNotice];
  /** The server refused the handshake, with its reason ('sign in first' once signed out). */
  refused: [string];
};

/**
 * The board's Socket.io connection (`auth: { kind: 'board' }`; the session cookie
 * says who): listens only, reconnects by itself. The server ends it when the
 * person signs out (here or everywhere); the next handshake is then refused.
 */
export class BoardFeed extends TypedEmitter<FeedEvents> {
  private readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  private everConnected = false;
  private closed = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  state: FeedState = 'connecting';

  constructor(url = '/') {
    super();
    this.socket = io(url, {
      auth: { kind: 'board' },
      withCredentials: true,
      autoConnect: false,
      reconnection: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 5_000,
      timeout: 10_000,
    });
    const s = this.socket;
    s.on('connect', () => {
      const reconnect = this.everConnected;
      this.everConnected = true;
      this.setState('connected');
      this.emit('connected', { reconnect });
    });
    s.on('disconnect', (reason) => {
      if (this.closed) return;
      this.setState('reconnecting');
      // A disconnect by the server is not retried by Socket.io itself.
      if (reason === 'io server disconnect') this.retrySoon();
    });
    s.on('connect_error', (err) => {
      if (this.closed) return;
      this.emit('refused', err.message);
      this.setState(this.everConnected ? 'reconnecting' : 'connecting');
      if (!s.active) this.retrySoon(); // handshake refused: try again later
    });
    s.on('schedule:changed', (change) => this.emit('changed', change));
    s.on('schedule:notice', (notice) => this.emit('notice', notice));
    s.on('recording:disk', (notice) => this.emit('disk', notice));
    s.on('agent:alert', (alert) => this.emit('agentAlert', alert));
  }

  connect(): void {
    if (this.closed) return;
    this.socket.connect();
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.socket.removeAllListeners();
    this.socket.disconnect();
    this.setState('disconnected');
    this.removeAllListeners();
  }

  private retrySoon(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closed && !this.socket.connected && !this.socket.active) this.socket.connect();
    }, 3_000);
  }

  private setState(state: FeedState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }
}
