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
import type { JoinTokens } from '../access/join-token.js';
import type { BookingRequest, IsoDate, Minute, Placement, RejectReason } from './model.js';
import { Schedule, type BookingChange } from './scheduler.js';
import { windowsOn, assertIsoDate, formatMinute } from './windows.js';
import { HoldConflict, HOLDING, ScheduleStore, bookingOf, viewOf, type BookingView, type LiveStatus } from './schedule-store.js';
import { SiteClock } from './site-clock.js';
import type { DayViewT } from './schedule-api.js';
import type { SessionCloseReason } from '../session/close-reason.js';

export class ScheduleError extends DomainError {}

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

/** A day of the schedule as the API and the staff page see it: the API schema's type. */
export type DayView = DayViewT;

export class ScheduleService extends TypedEmitter<ServiceEvents> {
  readonly clock: SiteClock;
  private overrunTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly store: ScheduleStore,
    private readonly config: Config,
    private readonly registry: SessionRegistry,
    private readonly tokens: JoinTokens,
    private readonly log: Logger,
    clock?: SiteClock
  ) {
    super();
    this.clock = clock ?? new SiteClock(config.site.timeZone);
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
    try {
      assertIsoDate(q.date);
    } catch (err) {
      throw new ScheduleError(400, 'bad_request', `date: ${(err as Error).message}`);
    }
    if (q.roomId !== undefined && !this.config.site.rooms.some((r) => r.id === q.roomId)) {
      throw new ScheduleError(400, 'bad_request', `roomId: no room ${q.roomId}`);
    }
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
    if (to.date) this.checkRequest({ ...bookingOf(row).request, date: to.date });
    if (to.roomId !== undefined && !this.config.site.rooms.some((r) => r.id === to.roomId)) throw new ScheduleError(400, 'bad_request', `roomId: no room ${to.roomId}`);
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

  cancel(id: string, actor: string, note: string | null): BookingView {
    const row = this.mustRow(id);
    if (!['scheduled', 'escorting', 'displaced'].includes(row.status)) throw new ScheduleError(409, 'wrong_status', `booking ${id} is ${row.status}; it cannot be cancelled`);
    const after = this.store.db.transaction(() => this.store.setStatus(id, 'cancelled', actor, note)).immediate();
    this.tell(id, ['prosecutor', 'lawyer'], `预约 ${id} 已取消 / booking ${id} cancelled${note ? `: ${note}` : ''}`);
    this.changed(row.date, [id], 'cancelled');
    return viewOf(after);
  }

  noShow(id: string, actor: string, note: string | null): BookingView {
    const row = this.mustRow(id);
    if (!['scheduled', 'escorting', 'in_room'].includes(row.status)) throw new ScheduleError(409, 'wrong_status', `booking ${id} is ${row.status}`);
    const after = this.store.db.transaction(() => this.store.setStatus(id, 'no_show', actor, note)).immediate();
    this.closeSessionOf(id, 'booking_no_show');
    this.changed(row.date, [id], 'no_show');
    return viewOf(after);
  }

  /** Staff steps of the live status; "in room" opens the session, "finished" closes it. */
  async advance(id: string, status: LiveStatus, actor: string): Promise<BookingView> {
    const first = this.mustRow(id);
    if (status === 'in_room') {
      const open = this.registry.forRoom(first.room_id);
      if (open && open.bookingId !== null && open.bookingId !== id) {
        throw new ScheduleError(409, 'room_in_session', `room ${first.room_id} is still in session for booking ${open.bookingId}`);
      }
    }
    // The status is checked and written in one transaction, so a cancel or move in between cannot be overwritten.
    const { before, after } = this.store.db.transaction(() => {
      const row = this.mustRow(id);
      if (!manualNext[row.status].includes(status)) {
        throw new ScheduleError(409, 'wrong_status', `booking ${id} is ${row.status}; it cannot become ${status}`);
      }
      return { before: row, after: this.store.setStatus(id, status, actor) };
    }).immediate();
    if (status === 'in_room') {
      try {
        const open = this.registry.forRoom(after.room_id);
        if (open && open.bookingId === null) open.close('replaced_by_booking');
        await this.registry.open(after.room_id, id, actor);
      } catch (err) {
        this.store.db.transaction(() => this.store.setStatus(id, before.status, 'system', `session could not open: ${(err as Error).message}`)).immediate();
        this.changed(after.date, [id], `status.${before.status}`);
        throw new ScheduleError(409, 'session_not_opened', `the session of room ${after.room_id} could not open: ${(err as Error).message}`);
      }
    }
    if (status === 'finished' || status === 'escorting' || status === 'scheduled') this.closeSessionOf(id, status === 'finished' ? 'booking_finished' : 'booking_stepped_back');
    this.changed(after.date, [id], `status.${status}`);
    return viewOf(after);
  }

  /** The session runs until `newEnd`: following bookings move or change room; their parties are told. */
  overrun(id: string, newEnd: Minute, actor: string): { booking: BookingView; changed: BookingChange[]; displaced: string[] } {
    const row = this.mustRow(id);
    if (!HOLDING.includes(row.status) || row.status === 'finished') throw new ScheduleError(409, 'wrong_status', `booking ${id} is ${row.status}`);
    if (newEnd <= row.end_min) throw new ScheduleError(400, 'bad_request', `newEnd: must be after the planned end ${formatMinute(row.end_min)}`);
    const out = this.write(row.date, (schedule) => {
      let res;
      try {
        res = schedule.overrun(id, newEnd);
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
      for (const c of res.changed) {
        const b = schedule.get(c.bookingId);
        if (b) this.store.place(b, actor, 'moved_by_overrun', `after overrun of ${id}`);
      }
      for (const d of res.unplaceable) this.store.setStatus(d.id, 'displaced', actor, `displaced by overrun of ${id}`);
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
      if (row?.status !== 'in_room') return;
      this.store.db.transaction(() => this.store.setStatus(bookingId, 'in_session', 'system')).immediate();
      this.changed(row.date, [bookingId], 'status.in_session');
    };
    session.on('party-joined', check);
    check();
  }

  joinLinks(id: string, baseUrl: string): { prosecutor: string; lawyer: string; suspect?: string; validFrom: string; validUntil: string } {
    const row = this.mustRow(id);
    if (!HOLDING.includes(row.status) || row.status === 'finished') throw new ScheduleError(409, 'wrong_status', `booking ${id} is ${row.status}`);
    const nbf = this.clock.toEpochMs(row.date, row.start_min - row.escort_before_min - this.config.schedule.joinOpensMinutesBefore);
    const exp = this.clock.toEpochMs(row.date, row.end_min + this.config.schedule.joinClosesMinutesAfter);
    const link = (role: 'prosecutor' | 'lawyer' | 'guest', name: string) =>
      `${baseUrl}/session?token=${this.tokens.issue({ roomId: row.room_id, role, bookingId: id, displayName: name.slice(0, 64), nbf, exp })}`;
    return {
      prosecutor: link('prosecutor', row.prosecutor_id),
      lawyer: link('lawyer', row.lawyer_id),
      ...(row.session_kind === 'bail_hearing' ? { suspect: link('guest', `取保候审人 ${row.detainee_id}`) } : {}),
      validFrom: new Date(nbf).toISOString(),
      validUntil: new Date(exp).toISOString(),
    };
  }

  day(date: IsoDate): DayView {
    try {
      assertIsoDate(date);
    } catch (err) {
      throw new ScheduleError(400, 'bad_request', `date: ${(err as Error).message}`);
    }
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
        await this.registry.open(row.room_id, row.id, 'system');
        if (row.status === 'in_session') {
          this.store.db.transaction(() => this.store.setStatus(row.id, 'in_room', 'system', 'session reopened')).immediate();
        }
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
  }
}
