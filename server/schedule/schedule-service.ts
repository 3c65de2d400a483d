// The schedule as the staff use it: place, check, plan, move, cancel, no-show,
// overrun, and the live status of each booking (scheduled → escorting → in room
// → in session → finished). Every write runs in one IMMEDIATE transaction that
// loads the day from the database, asks the scheduler, and stores the result
// with its holds, history and audit entry; so two staff members (or two
// processes) can never both take the same room, detainee, prosecutor or lawyer.
// At "in room" the booking's media session opens; at "finished" it closes.
import type { Config } from '../config.js';
import { DomainError } from '../errors.js';
import type { Logger } from '../logger.js';
import { TypedEmitter } from '../events.js';
import type { SessionRegistry } from '../session/session-registry.js';
import type { Session } from '../session/session.js';
import type { BookingRequest, IsoDate, Minute, Placement, RejectReason } from './model.js';
import { Schedule, type BookingChange } from './scheduler.js';
import { windowsOn, formatMinute } from './windows.js';
import { Horizon } from './input-checks.js';
import { added, attentionOf, type AttentionReason } from './affected.js';
import { isoWeekday } from './windows.js';
import { PRIORITY_RANK, type DutyShift, type IsoWeekday, type ReservedWindow } from './model.js';
import { randomUUID } from 'node:crypto';
import { HoldConflict, HOLDING, ScheduleStore, StatusChanged, bookingOf, viewOf, type BookingRow, type BookingView, type LiveStatus } from './schedule-store.js';
import { SiteClock } from './site-clock.js';
import type { DayViewT } from './schedule-api.js';
import type { SessionCloseReason } from '../session/close-reason.js';

export class ScheduleError extends DomainError {}

/** Who decides what happens to live bookings a change of the roster, reserved windows or a room's status affects. */
export type AffectedChoice = 'refuse' | 'apply';

export interface AffectedBooking {
  id: string;
  date: IsoDate;
  roomId: string;
  start: Minute;
  status: LiveStatus;
  priorityClass: 'district' | 'higher' | 'sibling';
  /** What the change would make wrong with it. */
  reasons: AttentionReason[];
}

/** An affected booking after an applied change: moved to a place that fits, or left where it is and flagged. */
export interface AppliedChange extends AffectedBooking {
  outcome: 'moved' | 'flagged';
}

/** A change refused because it affects live bookings (the staff member chose "refuse"). */
export class AffectsLiveBookings extends ScheduleError {
  constructor(readonly affected: AffectedBooking[], what: string) {
    super(409, 'affects_live_bookings', `${what} would affect ${affected.length} live booking(s): ${affected.map((a) => `${a.id} (${a.reasons.join(', ')})`).join('; ')}; send affected: "apply" to move or flag them`);
  }
}

const NOT_OVER: readonly LiveStatus[] = ['scheduled', 'escorting', 'in_room', 'in_session'];

export type PlaceOutcome =
  | { ok: true; booking: BookingView }
  | { ok: false; reason: RejectReason; alternatives: Placement[] };

export interface ScheduleChange {
  date: IsoDate;
  bookingIds: string[];
  reason: string;
}

export interface Notice {
  bookingId: string;
  recipient: string;
  message: string;
}

type ServiceEvents = { changed: [ScheduleChange]; notice: [Notice] };

/** Who may set which next status by hand. */
const manualNext: Record<LiveStatus, LiveStatus[]> = {
  scheduled: ['escorting', 'in_room'],
  escorting: ['in_room', 'scheduled'],
  in_room: ['finished', 'escorting'],
  in_session: ['finished', 'in_room'],
  finished: [],
  no_show: [],
  cancelled: [],
  displaced: [],
};

/** The session close reason of a step that ends (or steps back from) a booking's session. */
function closeReasonOf(status: LiveStatus): SessionCloseReason | null {
  if (status === 'finished') return 'booking_finished';
  if (status === 'no_show') return 'booking_no_show';
  if (status === 'escorting' || status === 'scheduled') return 'booking_stepped_back';
  return null;
}

function changedError(err: StatusChanged, wanted: LiveStatus): ScheduleError {
  return new ScheduleError(409, 'status_changed', `booking ${err.now.id} changed meanwhile: it is now ${err.now.status} (version ${err.now.version}); it did not become ${wanted}`);
}

/** A day of the schedule as the API and the staff page see it: the API schema's type. */
export type DayView = DayViewT;

export class ScheduleService extends TypedEmitter<ServiceEvents> {
  readonly clock: SiteClock;
  readonly horizon: Horizon;
  private overrunTimer: NodeJS.Timeout | null = null;
  private orphanTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly store: ScheduleStore,
    private readonly config: Config,
    private readonly registry: SessionRegistry,
    private readonly log: Logger,
    clock?: SiteClock
  ) {
    super();
    this.clock = clock ?? new SiteClock(config.site.timeZone);
    this.horizon = new Horizon(this.clock, config.schedule.horizonDaysBack, config.schedule.horizonDaysAhead);
    registry.on('opened', (session) => this.watchSession(session));
    for (const s of registry.list()) this.watchSession(s);
  }

  /** Runs `fn` in one IMMEDIATE transaction over the day's schedule as stored. */
  private write<T>(date: IsoDate, fn: (schedule: Schedule) => T): T {
    const tx = this.store.db.transaction(() => fn(new Schedule(this.store.site(date), this.store.rows(date).map(bookingOf))));
    try {
      return tx.immediate();
    } catch (err) {
      if (err instanceof HoldConflict) throw new ScheduleError(409, 'conflict', err.message);
      throw err;
    }
  }

  private changed(date: IsoDate, bookingIds: string[], reason: string): void {
    this.emit('changed', { date, bookingIds, reason });
  }

  /** Tells open boards that something of the day changed (roster, room status). */
  announce(date: IsoDate, reason: string): void {
    this.changed(date, [], reason);
  }

  private mustRow(id: string) {
    const row = this.store.row(id);
    if (!row) throw new ScheduleError(404, 'not_found', `no booking ${id}`);
    return row;
  }

  private checkRequest(q: BookingRequest): void {
    this.horizon.writable('date', q.date);
    this.checkRoom('roomId', q.roomId);
  }

  private checkRoom(field: string, roomId: string | undefined): void {
    if (roomId !== undefined && !this.config.site.rooms.some((r) => r.id === roomId)) throw new ScheduleError(400, 'bad_request', `${field}: no room ${roomId}`);
  }

  /** Would the request fit as asked? Nothing is stored. */
  check(q: BookingRequest): PlaceOutcome {
    this.checkRequest(q);
    const schedule = new Schedule(this.store.site(q.date), this.store.rows(q.date).map(bookingOf));
    const res = schedule.place(q);
    if (!res.ok) return { ok: false, reason: res.reason, alternatives: [...res.alternatives] };
    const b = res.booking;
    return {
      ok: true,
      booking: {
        id: '', date: b.date, roomId: b.roomId, start: b.start, end: b.end, escortBeforeMin: b.escortBeforeMin, changeoverAfterMin: b.changeoverAfterMin,
        status: 'scheduled', caseNumber: q.caseNumber, detaineeId: q.detaineeId, procuratorateId: q.procuratorateId, priorityClass: q.priorityClass,
        prosecutorId: q.prosecutorId, lawyerRole: q.lawyerRole, lawyerId: b.lawyerId, sessionKind: q.sessionKind, requestedStart: q.requestedStart,
        durationMin: q.durationMin, version: 0, updatedAt: '',
      },
    };
  }

  create(q: BookingRequest, actor: string): PlaceOutcome {
    this.checkRequest(q);
    const out = this.write(q.date, (schedule): PlaceOutcome => {
      const res = schedule.place(q);
      if (!res.ok) return { ok: false, reason: res.reason, alternatives: [...res.alternatives] };
      const row = this.store.insert({ ...res.booking, id: this.store.nextId(q.date) }, actor);
      return { ok: true, booking: viewOf(row) };
    });
    if (out.ok) this.changed(q.date, [out.booking.id], 'created');
    return out;
  }

  /** Batch mode: plans a whole day's requests, priority classes first, to place as many as possible. */
  plan(date: IsoDate, requests: BookingRequest[], actor: string): { placed: BookingView[]; unplaced: Array<{ caseNumber: string; reason: RejectReason }> } {
    this.horizon.writable('date', date);
    for (const q of requests) {
      this.checkRequest(q);
      if (q.date !== date) throw new ScheduleError(400, 'bad_request', `requests: ${q.caseNumber} is for ${q.date}, not ${date}`);
    }
    const out = this.write(date, (schedule) => {
      const res = schedule.plan(requests);
      let next = this.store.nextNumber(date);
      const placed = res.placed.map((b) => viewOf(this.store.insert({ ...b, id: ScheduleStore.bookingId(date, next++) }, actor, 'batch plan')));
      return { placed, unplaced: res.unplaced.map((u) => ({ caseNumber: u.request.caseNumber, reason: u.reason })) };
    });
    this.changed(date, out.placed.map((b) => b.id), 'planned');
    return out;
  }

  move(id: string, to: { start: Minute; roomId?: string | undefined; date?: IsoDate | undefined; dryRun?: boolean | undefined }, actor: string): PlaceOutcome {
    const row = this.mustRow(id);
    if (row.status !== 'scheduled' && row.status !== 'displaced') throw new ScheduleError(409, 'wrong_status', `booking ${id} is ${row.status}; only a scheduled booking moves`);
    if (to.date !== undefined) this.horizon.writable('date', to.date);
    this.checkRoom('roomId', to.roomId);
    if (to.dryRun) return this.checkMove(row.date, id, to);
    if (to.date && to.date !== row.date) {
      // Another day: take it out of its day and place it into the other, in one transaction.
      const out = this.store.db.transaction((): PlaceOutcome => {
        const target = new Schedule(this.store.site(to.date as string), this.store.rows(to.date as string).map(bookingOf));
        const q = { ...bookingOf(row).request, date: to.date as string, requestedStart: to.start, ...(to.roomId ? { roomId: to.roomId } : {}) } as BookingRequest;
        const res = target.place(q);
        if (!res.ok) return { ok: false, reason: res.reason, alternatives: [...res.alternatives] };
        const moved = this.store.place({ ...res.booking, id }, actor, 'moved');
        return { ok: true, booking: viewOf(moved) };
      }).immediate();
      if (out.ok) {
        this.notifyMove(id, row.date, row.start_min, out.booking);
        this.changed(row.date, [id], 'moved');
        this.changed(out.booking.date, [id], 'moved');
      }
      return out;
    }
    const out = this.write(row.date, (schedule): PlaceOutcome => {
      const res = schedule.move(id, { start: to.start, ...(to.roomId ? { roomId: to.roomId } : {}) });
      if (!res.ok) return { ok: false, reason: res.reason, alternatives: [...res.alternatives] };
      return { ok: true, booking: viewOf(this.store.place(res.booking, actor, 'moved')) };
    });
    if (out.ok) {
      this.notifyMove(id, row.date, row.start_min, out.booking);
      this.changed(row.date, [id], 'moved');
    }
    return out;
  }

  private checkMove(date: IsoDate, id: string, to: { start: Minute; roomId?: string | undefined; date?: IsoDate | undefined }): PlaceOutcome {
    const targetDate = to.date ?? date;
    const rows = this.store.rows(date);
    if (targetDate !== date) rows.push(...this.store.rows(targetDate));
    const schedule = new Schedule(this.store.site(targetDate), rows.map(bookingOf));
    const res = schedule.move(id, { start: to.start, date: targetDate, ...(to.roomId ? { roomId: to.roomId } : {}) });
    if (!res.ok) return { ok: false, reason: res.reason, alternatives: [...res.alternatives] };
    const row = this.mustRow(id);
    return { ok: true, booking: { ...viewOf(row), date: res.booking.date, roomId: res.booking.roomId, start: res.booking.start, end: res.booking.end, lawyerId: res.booking.lawyerId } };
  }

  cancel(id: string, actor: string, note: string | null, version?: number): BookingView {
    const after = this.step(id, 'cancelled', actor, { version, note, from: ['scheduled', 'escorting', 'displaced'] });
    this.tell(id, ['prosecutor', 'lawyer'], `预约 ${id} 已取消 / booking ${id} cancelled${note ? `: ${note}` : ''}`);
    return after;
  }

  noShow(id: string, actor: string, note: string | null, version?: number): BookingView {
    return this.step(id, 'no_show', actor, { version, note, from: ['scheduled', 'escorting', 'in_room'] });
  }

  /**
   * One live-status step (not "in room", which opens a session): a compare-and-set on the status and
   * version the caller saw (or, without a version, the status read now), in one transaction with
   * the closing of the booking's session record. The live session closes after the commit.
   */
  private step(id: string, status: LiveStatus, actor: string, o: { version?: number | undefined; note?: string | null; from?: readonly LiveStatus[] }): BookingView {
    const row = this.mustRow(id);
    this.assertStep(row, status, o.version, o.from);
    const reason = closeReasonOf(status);
    const after = this.store.db.transaction(() => {
      try {
        const next = this.store.setStatusIf(id, { status: row.status, version: row.version }, status, actor, o.note ?? null);
        if (reason) this.registry.records.closeOfBooking(id, reason, actor);
        return next;
      } catch (err) {
        if (err instanceof StatusChanged) throw changedError(err, status);
        throw err;
      }
    }).immediate();
    if (reason) this.closeSessionOf(id, reason);
    this.changed(row.date, [id], status === 'cancelled' || status === 'no_show' ? status : `status.${status}`);
    return viewOf(after);
  }

  private assertStep(row: BookingRow, status: LiveStatus, version: number | undefined, from?: readonly LiveStatus[]): void {
    if (version !== undefined && row.version !== version) {
      throw new ScheduleError(409, 'status_changed', `booking ${row.id} is now ${row.status} (version ${row.version}, not ${version}); it did not become ${status}`);
    }
    if (!(from ?? manualNext[row.status]).includes(from ? row.status : status)) {
      throw new ScheduleError(409, 'wrong_status', `booking ${row.id} is ${row.status}; it cannot become ${status}`);
    }
  }

  /** Staff steps of the live status; "in room" opens the session, "finished" closes it. */
  async advance(id: string, status: LiveStatus, actor: string, version?: number): Promise<BookingView> {
    if (status !== 'in_room') return this.step(id, status, actor, { version });
    const row = this.mustRow(id);
    this.assertStep(row, status, version);
    const today = this.clock.local().date;
    if (row.date !== today) throw new ScheduleError(409, 'not_today', `booking ${id} is for ${row.date}, not today (${today}); its session opens on its day`);
    const standing = this.registry.forRoom(row.room_id);
    if (standing && standing.bookingId !== null && standing.bookingId !== id) {
      if (!this.releaseIfOrphaned(standing)) throw new ScheduleError(409, 'room_in_session', `room ${row.room_id} is still in session for booking ${standing.bookingId}`);
    }
    if (standing && standing.bookingId === null) standing.close('replaced_by_booking');
    let after: BookingRow | undefined;
    try {
      // The step and the session record in one transaction: if the booking changed meanwhile (a
      // no-show, a finish, another "in room"), no session opens and nothing changes.
      await this.registry.open(row.room_id, id, actor, () => {
        for (const other of this.registry.records.openInRoom(row.room_id)) {
          const st = other.bookingId === null ? undefined : this.store.row(other.bookingId)?.status;
          if (st === 'in_room' || st === 'in_session') throw new ScheduleError(409, 'room_in_session', `room ${row.room_id} is in session for booking ${other.bookingId}`);
        }
        after = this.store.setStatusIf(id, { status: row.status, version: row.version }, 'in_room', actor);
      });
    } catch (err) {
      if (err instanceof ScheduleError) throw err;
      if (err instanceof StatusChanged) throw changedError(err, 'in_room');
      const now = this.store.row(id);
      if (now && (now.status !== row.status || now.version !== row.version)) throw changedError(new StatusChanged(now), 'in_room');
      // Nothing was written: the booking is exactly as it was, holds included.
      throw new ScheduleError(409, 'session_not_opened', `the session of room ${row.room_id} could not open: ${(err as Error).message}; booking ${id} is still ${row.status}`);
    }
    if (!after) throw new ScheduleError(409, 'session_not_opened', `the session of room ${row.room_id} could not open`);
    this.changed(row.date, [id], 'status.in_room');
    return viewOf(after);
  }

  /**
   * A live session whose booking is no longer in its room (ended by a step of another process, or
   * whose record was closed) is closed, and the release audited. Returns whether it was released.
   */
  private releaseIfOrphaned(session: Session): boolean {
    if (!session.bookingId || session.closed) return false;
    const row = this.store.row(session.bookingId);
    const live = row && (row.status === 'in_room' || row.status === 'in_session');
    if (live && this.registry.records.isOpen(session.id)) return false;
    this.store.db.transaction(() => {
      this.store.auditEntry('system', 'session.orphan_released', `session:${session.id}`, { roomId: session.room.id, bookingId: session.bookingId, bookingStatus: row?.status ?? null });
      this.registry.records.closed(session.id, 'booking_ended', 'system');
    }).immediate();
    session.close('booking_ended');
    this.log.warn({ sessionId: session.id, bookingId: session.bookingId, status: row?.status }, 'released a session whose booking had ended');
    return true;
  }

  /** Every few seconds: sessions left open for bookings that ended are released (see releaseIfOrphaned). */
  startOrphanSweep(everyMs = 2000): void {
    this.orphanTimer = setInterval(() => {
      for (const s of this.registry.list()) {
        try {
          this.releaseIfOrphaned(s);
        } catch (err) {
          this.log.error({ err, sessionId: s.id }, 'cannot release an orphaned session');
        }
      }
    }, everyMs);
    this.orphanTimer.unref();
  }

  /** The session runs until `newEnd`: following bookings move or change room; their parties are told. */
  overrun(id: string, newEnd: Minute, actor: string): { booking: BookingView; changed: BookingChange[]; displaced: string[] } {
    const row = this.mustRow(id);
    if (row.status !== 'in_room' && row.status !== 'in_session') {
      throw new ScheduleError(409, 'wrong_status', `booking ${id} is ${row.status}: only a session that has begun (in room, in session) can run long`);
    }
    if (newEnd <= row.end_min) throw new ScheduleError(400, 'bad_request', `newEnd: must be after the planned end ${formatMinute(row.end_min)}`);
    const out = this.write(row.date, (schedule) => {
      let res;
      // Only bookings not yet begun may be moved aside for a higher class.
      const immovable = new Set(this.store.rows(row.date).filter((r) => r.status !== 'scheduled').map((r) => r.id));
      try {
        res = schedule.overrun(id, newEnd, { immovable });
      } catch (err) {
        throw new ScheduleError(400, 'bad_request', `newEnd: ${(err as Error).message}`);
      }
      const live = [...res.changed.map((c) => c.bookingId), ...res.unplaceable.map((d) => d.id)].filter((b) => {
        const st = this.store.row(b)?.status;
        return st !== 'scheduled' && st !== 'escorting';
      });
      if (live.length) {
        throw new ScheduleError(409, 'would_move_live', `extending ${id} to ${formatMinute(newEnd)} would move ${live.join(', ')}, already in the room or in session`);
      }
      // Release the moving bookings first, so their new places never meet their old holds.
      for (const c of res.changed) this.store.releaseHolds(c.bookingId);
      for (const d of res.unplaceable) this.store.releaseHolds(d.id);
      const booking = viewOf(this.store.place(res.booking, actor, 'overrun', `runs until ${formatMinute(newEnd)}`));
      const cause = `overrun of ${id} to ${formatMinute(newEnd)}`;
      const aside = new Set(res.movedAside);
      for (const c of res.changed) {
        const b = schedule.get(c.bookingId);
        if (b) this.store.place(b, actor, 'moved_by_overrun', aside.has(c.bookingId) ? `moved aside for a higher class after ${cause}` : `after ${cause}`);
      }
      for (const d of res.unplaceable) this.store.setStatus(d.id, 'displaced', actor, `displaced by ${cause}`);
      return { booking, changed: [...res.changed], displaced: res.unplaceable.map((d) => d.id) };
    });
    for (const c of out.changed) {
      const moved = this.store.row(c.bookingId);
      if (moved) this.notifyMove(c.bookingId, c.before.date, c.before.start, viewOf(moved), `因 ${id} 超时 / because ${id} runs late`);
    }
    for (const d of out.displaced) this.tell(d, ['prosecutor', 'lawyer', 'staff'], `预约 ${d} 因 ${id} 超时无法安排，请重新预约 / booking ${d} could not be kept after ${id} ran late: please rebook`);
    this.changed(row.date, [id, ...out.changed.map((c) => c.bookingId), ...out.displaced], 'overrun');
    return out;
  }

  private notifyMove(id: string, oldDate: string, oldStart: number, now: BookingView, why = ''): void {
    const msg = `预约 ${id} 改为 ${now.date} ${formatMinute(now.start)} ${now.roomId}（原 ${oldDate} ${formatMinute(oldStart)}）${why} / booking ${id} now ${now.date} ${formatMinute(now.start)} in ${now.roomId}`;
    this.tell(id, ['prosecutor', 'lawyer', 'staff'], msg);
  }

  private tell(bookingId: string, recipients: string[], message: string): void {
    const row = this.store.row(bookingId);
    for (const r of recipients) {
      const who = r === 'prosecutor' ? `prosecutor:${row?.prosecutor_id ?? ''}` : r === 'lawyer' ? `lawyer:${row?.lawyer_id ?? ''}` : 'staff';
      this.store.notice(bookingId, who, message);
      this.emit('notice', { bookingId, recipient: who, message });
    }
  }

  private closeSessionOf(bookingId: string, reason: SessionCloseReason): void {
    this.registry.forBooking(bookingId)?.close(reason);
  }

  /** Marks "in session" once the room and a remote party are both in the booking's session. */
  private watchSession(session: Session): void {
    if (!session.bookingId) return;
    const bookingId = session.bookingId;
    const check = () => {
      const roles = new Set(session.partyList().map((p) => p.role));
      if (!roles.has('room') || !(roles.has('prosecutor') || roles.has('lawyer'))) return;
      const row = this.store.row(bookingId);
      if (row?.status !== 'in_room' || session.closed) return;
      try {
        this.store.db.transaction(() => this.store.setStatusIf(bookingId, { status: 'in_room', version: row.version }, 'in_session', 'system')).immediate();
      } catch (err) {
        if (err instanceof StatusChanged) return;
        throw err;
      }
      this.changed(row.date, [bookingId], 'status.in_session');
    };
    session.on('party-joined', check);
    check();
  }


  // ----- changes of the site: roster, reserved windows, room status ----------------------------

  /**
   * Runs `write` (a change of the site) in one IMMEDIATE transaction with its effect on the live
   * bookings of `dates`: bookings the change leaves against the rules are either the reason to
   * refuse it (nothing written), or, by the staff member's choice, moved where they fit (same
   * start in another room or with another duty lawyer, else the nearest place the scheduler offers)
   * or, where nothing fits or the session has begun, left in place and flagged. Parties and staff
   * are told.
   */
  private siteChange<T>(what: string, dates: () => IsoDate[], write: () => T, choice: AffectedChoice, actor: string): { result: T; applied: AppliedChange[] } {
    const out = this.store.db.transaction(() => {
      const ds = [...new Set(dates())];
      const rowsOf = new Map(ds.map((d) => [d, this.store.rows(d).filter((r) => NOT_OVER.includes(r.status))]));
      const before = new Map<string, AttentionReason[]>();
      for (const [d, rows] of rowsOf) {
        const site = this.store.site(d);
        for (const r of rows) before.set(r.id, attentionOf(bookingOf(r), site));
      }
      const result = write();
      const affected: AffectedBooking[] = [];
      for (const [d, rows] of rowsOf) {
        const site = this.store.site(d);
        for (const r of rows) {
          const reasons = added(before.get(r.id) ?? [], attentionOf(bookingOf(r), site));
          if (reasons.length) affected.push({ id: r.id, date: r.date, roomId: r.room_id, start: r.start_min, status: r.status, priorityClass: r.priority_class, reasons });
        }
      }
      if (affected.length && choice === 'refuse') throw new AffectsLiveBookings(affected, what);
      const applied: AppliedChange[] = [];
      const order = [...affected].sort((a, b) => PRIORITY_RANK[b.priorityClass] - PRIORITY_RANK[a.priorityClass] || a.start - b.start);
      const schedules = new Map<IsoDate, Schedule>();
      for (const a of order) {
        let schedule = schedules.get(a.date);
        if (!schedule) {
          schedule = new Schedule(this.store.site(a.date), this.store.rows(a.date).map(bookingOf));
          schedules.set(a.date, schedule);
        }
        let moved: BookingRow | undefined;
        if (a.status === 'scheduled' || a.status === 'escorting') {
          let res = schedule.move(a.id, { start: a.start });
          // An escort under way keeps its time; a booking not yet begun may take the nearest place offered.
          const alt = !res.ok && a.status === 'scheduled' ? res.alternatives[0] : undefined;
          if (alt) res = schedule.move(a.id, { start: alt.start, roomId: alt.roomId });
          if (res.ok) moved = this.store.place(res.booking, actor, 'moved_by_change', `${what}: ${a.reasons.join(', ')}`);
        }
        if (moved) applied.push({ ...a, outcome: 'moved', roomId: moved.room_id, start: moved.start_min });
        else {
          this.store.auditEntry(actor, 'booking.flagged', `booking:${a.id}`, { what, reasons: a.reasons });
          applied.push({ ...a, outcome: 'flagged' });
        }
      }
      return { result, applied };
    }).immediate();
    for (const a of out.applied) {
      const row = this.store.row(a.id);
      if (!row) continue;
      if (a.outcome === 'moved') this.notifyMove(a.id, a.date, a.start, viewOf(row), `（${what}）`);
      else this.tell(a.id, ['prosecutor', 'lawyer', 'staff'], `预约 ${a.id} 需要处理：${a.reasons.join(', ')}（${what}）/ booking ${a.id} needs attention after ${what}: ${a.reasons.join(', ')}`);
    }
    return out;
  }

  private notOverFrom(): IsoDate {
    return this.clock.local().date;
  }

  addDutyShift(s: DutyShift, actor: string): { id: string } & DutyShift {
    this.horizon.writable('date', s.date);
    if (s.end <= s.start) throw new ScheduleError(400, 'bad_request', 'end: must be after start');
    const id = randomUUID();
    this.store.db.transaction(() => this.store.addDutyShift(id, s, actor)).immediate();
    this.announce(s.date, 'roster');
    return { id, ...s };
  }

  removeDutyShift(id: string, choice: AffectedChoice, actor: string): AppliedChange[] {
    const shift = this.store.dutyShiftById(id);
    if (!shift) throw new ScheduleError(404, 'not_found', `id: no duty shift ${id}`);
    const { applied } = this.siteChange(`removing the duty shift of ${shift.lawyerId} on ${shift.date}`, () => [shift.date], () => {
      if (!this.store.removeDutyShift(id, actor)) throw new ScheduleError(404, 'not_found', `id: no duty shift ${id}`);
    }, choice, actor);
    this.changed(shift.date, applied.map((a) => a.id), 'roster');
    return applied;
  }

  addReservedWindow(
    w: { priorityClass: ReservedWindow['priorityClass']; start: Minute; end: Minute; date?: IsoDate | undefined; weekday?: number | undefined; roomId?: string | undefined; roomKind?: ReservedWindow['roomKind'] | undefined },
    choice: AffectedChoice, actor: string): { window: ReservedWindow; applied: AppliedChange[] } {
    if (w.end <= w.start) throw new ScheduleError(400, 'bad_request', 'end: must be after start');
    if (w.date !== undefined) {
      this.horizon.writable('date', w.date);
      if (w.weekday !== undefined && w.weekday !== isoWeekday(w.date)) throw new ScheduleError(400, 'bad_request', `weekday: ${w.date} is weekday ${isoWeekday(w.date)}, not ${w.weekday}`);
    }
    this.checkRoom('roomId', w.roomId);
    const room = this.config.site.rooms.find((r) => r.id === w.roomId);
    if (room && w.roomKind !== undefined && room.kind !== w.roomKind) throw new ScheduleError(400, 'bad_request', `roomKind: room ${room.id} is ${room.kind}, not ${w.roomKind}`);
    const window: ReservedWindow = {
      id: randomUUID(),
      priorityClass: w.priorityClass,
      start: w.start,
      end: w.end,
      ...(w.date !== undefined ? { date: w.date } : {}),
      ...(w.weekday !== undefined ? { weekday: w.weekday as IsoWeekday } : {}),
      ...(w.roomId !== undefined ? { roomId: w.roomId } : {}),
      ...(w.roomKind !== undefined ? { roomKind: w.roomKind } : {}),
    };
    const dates = () => (window.date !== undefined ? [window.date] : this.store.liveDates(this.notOverFrom()));
    const { applied } = this.siteChange(`reserving ${formatMinute(w.start)}–${formatMinute(w.end)} for ${w.priorityClass}`, dates, () => this.store.addReservedWindow(window, actor), choice, actor);
    for (const d of window.date !== undefined ? [window.date] : [this.clock.local().date]) this.changed(d, applied.filter((a) => a.date === d).map((a) => a.id), 'reserved window');
    return { window, applied };
  }

  removeReservedWindow(id: string, actor: string): void {
    if (!this.store.removeReservedWindow(id, actor)) throw new ScheduleError(404, 'not_found', `id: no reserved window ${id}`);
    this.announce(this.clock.local().date, 'reserved window');
  }

  setRoomStatus(roomId: string, status: 'active' | 'out_of_service', choice: AffectedChoice, actor: string): AppliedChange[] {
    if (!this.store.roomStatuses().has(roomId)) throw new ScheduleError(404, 'not_found', `id: no room ${roomId}`);
    const dates = () => (status === 'out_of_service' ? this.store.liveDates(this.notOverFrom()) : []);
    const { applied } = this.siteChange(`taking ${roomId} out of service`, dates, () => this.store.setRoomStatus(roomId, status, actor), choice, actor);
    this.changed(this.clock.local().date, applied.map((a) => a.id), 'room status');
    for (const d of new Set(applied.map((a) => a.date))) if (d !== this.clock.local().date) this.changed(d, applied.filter((a) => a.date === d).map((a) => a.id), 'room status');
    return applied;
  }

  /** Live bookings of `date` that stand against the rules as they now are (the board flags them). */
  attention(date: IsoDate): Array<{ bookingId: string; reasons: AttentionReason[] }> {
    const site = this.store.site(date);
    const out: Array<{ bookingId: string; reasons: AttentionReason[] }> = [];
    for (const r of this.store.rows(date)) {
      if (!NOT_OVER.includes(r.status)) continue;
      const reasons = attentionOf(bookingOf(r), site);
      if (reasons.length) out.push({ bookingId: r.id, reasons });
    }
    return out;
  }

  day(date: IsoDate): DayView {
    this.horizon.realDate('date', date);
    const site = this.store.site(date);
    const windows = windowsOn(site, date).map((w) => ({ start: w.start, end: w.end }));
    const bookings = this.store.rows(date).map(viewOf);
    const statuses = this.store.roomStatuses();
    const blocks = windows.map((w) => {
      const inBlock = bookings.filter((b) => b.start >= w.start && b.start < w.end && HOLDING.includes(b.status));
      return {
        start: w.start,
        end: w.end,
        designed: Math.round((this.config.schedule.designedSessionsPerBlock * (w.end - w.start)) / 120),
        scheduled: inBlock.length,
        inProgress: inBlock.filter((b) => ['escorting', 'in_room', 'in_session'].includes(b.status)).length,
        finished: inBlock.filter((b) => b.status === 'finished').length,
      };
    });
    return {
      date,
      windows,
      rooms: this.config.site.rooms.map((r) => ({ id: r.id, kind: r.kind, name: r.name, nameEn: r.nameEn, status: statuses.get(r.id) ?? 'active' })),
      bookings,
      attention: this.attention(date),
      capacity: { designedPerBlock: this.config.schedule.designedSessionsPerBlock, blocks },
      now: this.clock.local(),
    };
  }

  /**
   * Bookings of today that are in the room (or in session) need their session:
   * after a restart, or when their media worker died, it is opened again. A
   * booking in session goes back to "in room" until its parties are back.
   */
  async reopenLiveSessions(): Promise<string[]> {
    const { date } = this.clock.local();
    const reopened: string[] = [];
    for (const row of this.store.rows(date)) {
      if (row.status !== 'in_room' && row.status !== 'in_session') continue;
      if (this.registry.forBooking(row.id)) continue;
      try {
        const standing = this.registry.forRoom(row.room_id);
        if (standing && standing.bookingId === null) standing.close('replaced_by_booking');
        await this.registry.open(row.room_id, row.id, 'system', () => {
          const now = this.store.setStatusIf(row.id, { status: row.status, version: row.version }, 'in_room', 'system', 'session reopened');
          if (now.status !== 'in_room') throw new StatusChanged(now);
        });
        reopened.push(row.id);
      } catch (err) {
        this.log.error({ err, bookingId: row.id }, 'cannot reopen the session of a booking in its room');
      }
    }
    if (reopened.length) this.changed(date, reopened, 'session reopened');
    return reopened;
  }

  /** Reopens a booking's session that closed without the booking finishing (its media worker died). */
  watchForLostSessions(): void {
    this.registry.on('closed', (session, reason) => {
      if (!session.bookingId || reason !== 'worker_died') return;
      // Give the pool a moment to replace the dead worker.
      setTimeout(() => void this.reopenLiveSessions(), 2000).unref();
    });
  }

  /** Sessions that run past their planned end push what follows, a few minutes at a time. */
  startOverrunWatch(): void {
    const every = this.config.schedule.overrunCheckSeconds * 1000;
    this.overrunTimer = setInterval(() => this.checkOverruns(), every);
    this.overrunTimer.unref();
  }

  checkOverruns(): number {
    const { date, minute } = this.clock.local();
    let pushed = 0;
    for (const row of this.store.rows(date)) {
      // Only a booking whose session is really open runs long (after a restart it is not).
      if ((row.status === 'in_room' || row.status === 'in_session') && row.end_min <= minute && this.registry.forBooking(row.id)) {
        try {
          this.overrun(row.id, minute + this.config.schedule.overrunStepMinutes, 'system');
          pushed++;
        } catch (err) {
          this.log.warn({ err, bookingId: row.id }, 'cannot extend an overrunning booking');
        }
      }
    }
    return pushed;
  }

  stop(): void {
    if (this.overrunTimer) clearInterval(this.overrunTimer);
    if (this.orphanTimer) clearInterval(this.orphanTimer);
  }
}
