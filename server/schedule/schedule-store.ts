// Persistence of the schedule. Bookings are rows; every minute a booking holds
// of a room, detainee, prosecutor or lawyer is a row of booking_holds whose
// primary key makes a double booking impossible at the database, whatever
// process or request writes. Every change writes its booking history and its
// audit entry in the same transaction (the caller's).
import type { Db } from '../db/database.js';
import type { AuditTrail } from '../audit/audit-trail.js';
import type { Config } from '../config.js';
import type { Booking, BookingRequest, DutyShift, IsoDate, ReservedWindow, Room, Site, TimeRange } from './model.js';
import { DEFAULT_ROOM_KINDS } from './model.js';
import { detaineeSpan, roomSlot } from './scheduler.js';
import { hhmm } from './windows.js';
import type { Static } from 'typebox';
import type { BookingViewT, LiveStatus as LiveStatusSchema } from './schedule-api.js';

export type LiveStatus = Static<typeof LiveStatusSchema>;
/** Statuses in which a booking holds its room and people. */
export const HOLDING: readonly LiveStatus[] = ['scheduled', 'escorting', 'in_room', 'in_session', 'finished'];

export interface BookingRow {
  id: string;
  date: string;
  room_id: string;
  start_min: number;
  end_min: number;
  escort_before_min: number;
  changeover_after_min: number;
  status: LiveStatus;
  case_number: string;
  detainee_id: string;
  procuratorate_id: string;
  priority_class: 'district' | 'higher' | 'sibling';
  prosecutor_id: string;
  lawyer_role: 'duty' | 'defence';
  lawyer_id: string;
  lawyer_named: number;
  session_kind: 'arraignment' | 'plea_hearing' | 'bail_hearing';
  requested_start_min: number;
  duration_min: number;
  pinned_room_id: string | null;
  created_at: string;
  updated_at: string;
  version: number;
}

/** A booking as the API and the pages see it: the API schema's type. */
export type BookingView = BookingViewT;

export function viewOf(r: BookingRow): BookingView {
  return {
    id: r.id,
    date: r.date,
    roomId: r.room_id,
    start: r.start_min,
    end: r.end_min,
    escortBeforeMin: r.escort_before_min,
    changeoverAfterMin: r.changeover_after_min,
    status: r.status,
    caseNumber: r.case_number,
    detaineeId: r.detainee_id,
    procuratorateId: r.procuratorate_id,
    priorityClass: r.priority_class,
    prosecutorId: r.prosecutor_id,
    lawyerRole: r.lawyer_role,
    lawyerId: r.lawyer_id,
    sessionKind: r.session_kind,
    requestedStart: r.requested_start_min,
    durationMin: r.duration_min,
    version: r.version,
    updatedAt: r.updated_at,
  };
}

/** The scheduler's view of a stored booking. */
export function bookingOf(r: BookingRow): Booking {
  const base = {
    requestId: r.id,
    caseNumber: r.case_number,
    detaineeId: r.detainee_id,
    procuratorateId: r.procuratorate_id,
    priorityClass: r.priority_class,
    prosecutorId: r.prosecutor_id,
    sessionKind: r.session_kind,
    date: r.date,
    requestedStart: r.requested_start_min,
    durationMin: r.duration_min,
    escortBeforeMin: r.escort_before_min,
    changeoverAfterMin: r.changeover_after_min,
    ...(r.pinned_room_id ? { roomId: r.pinned_room_id } : {}),
  };
  const request: BookingRequest =
    r.lawyer_role === 'defence'
      ? { ...base, lawyerRole: 'defence', lawyerId: r.lawyer_id }
      : { ...base, lawyerRole: 'duty', ...(r.lawyer_named ? { lawyerId: r.lawyer_id } : {}) };
  const status = HOLDING.includes(r.status) ? 'booked' : r.status === 'displaced' ? 'displaced' : r.status === 'no_show' ? 'no_show' : 'cancelled';
  return {
    id: r.id,
    date: r.date,
    roomId: r.room_id,
    start: r.start_min,
    end: r.end_min,
    lawyerId: r.lawyer_id,
    request,
    escortBeforeMin: r.escort_before_min,
    changeoverAfterMin: r.changeover_after_min,
    status,
  };
}

/** Every (resource, minute) a booking holds. */
export function holdsOf(b: Booking): Array<[resource: string, from: number, to: number]> {
  const room = roomSlot(b);
  const detainee = detaineeSpan(b);
  return [
    [`room:${b.roomId}`, room.start, room.end],
    [`detainee:${b.request.detaineeId}`, detainee.start, detainee.end],
    [`prosecutor:${b.request.prosecutorId}`, b.start, b.end],
    [`lawyer:${b.lawyerId}`, b.start, b.end],
  ];
}

export class HoldConflict extends Error {
  constructor(readonly resource: string) {
    super(`${resource} is already held at that time`);
  }
}

/** A compare-and-set found the booking changed since it was read. */
export class StatusChanged extends Error {
  constructor(readonly now: BookingRow) {
    super(`booking ${now.id} is now ${now.status} (version ${now.version})`);
  }
}

export class ScheduleStore {
  private readonly weekly: Site['weeklyWindows'];

  /** Join links were issued for a booking (who, for which roles, valid when): audited, or refused. */
  constructor(readonly db: Db, private readonly audit: AuditTrail, private readonly config: Config) {
    const weekly: Partial<Record<1 | 2 | 3 | 4 | 5 | 6 | 7, TimeRange[]>> = {};
    for (const [day, list] of Object.entries(config.schedule.weeklyWindows)) {
      weekly[Number(day) as 1] = list.map((w) => {
        const [from, to] = w.split('-') as [string, string];
        return { start: hhmm(from), end: hhmm(to) };
      });
    }
    this.weekly = weekly;
  }

  /** The scheduler's site for a date: rooms with their service status, windows, reservations, roster. */
  site(date: IsoDate): Site {
    const statuses = new Map(
      (this.db.prepare('SELECT id, status FROM rooms').all() as Array<{ id: string; status: string }>).map((r) => [r.id, r.status])
    );
    const rooms: Room[] = this.config.site.rooms.map((r) => ({ id: r.id, kind: r.kind, active: statuses.get(r.id) !== 'out_of_service' }));
    return {
      rooms,
      weeklyWindows: this.weekly,
      reservedWindows: this.reservedWindows(),
      dutyRoster: this.dutyShifts(date),
      roomKinds: DEFAULT_ROOM_KINDS,
      slotMinutes: this.config.schedule.slotMinutes,
      defaultEscortBeforeMin: this.config.schedule.escortBeforeMin,
      defaultChangeoverAfterMin: this.config.schedule.changeoverAfterMin,
    };
  }

  rows(date: IsoDate): BookingRow[] {
    return this.db.prepare('SELECT * FROM bookings WHERE date = ? ORDER BY start_min, room_id').all(date) as BookingRow[];
  }

  row(id: string): BookingRow | undefined {
    return this.db.prepare('SELECT * FROM bookings WHERE id = ?').get(id) as BookingRow | undefined;
  }

  /** Bookings from `from` to `to` (dates, inclusive) that name one of `prosecutorIds` as prosecutor or `lawyerId` as lawyer. */
  rowsNaming(q: { prosecutorIds: readonly string[]; lawyerId: string | null; from: IsoDate; to: IsoDate }): BookingRow[] {
    const ids = q.prosecutorIds.slice(0, 500);
    const inList = ids.length ? `prosecutor_id IN (${ids.map(() => '?').join(', ')})` : '0';
    return this.db
      .prepare(`SELECT * FROM bookings WHERE date BETWEEN ? AND ? AND (${inList} OR lawyer_id = ?) ORDER BY date, start_min, room_id`)
      .all(q.from, q.to, ...ids, q.lawyerId ?? '') as BookingRow[];
  }

  /** Whether a booking that may still be held names `personId` as its prosecutor or lawyer. */
  namesPersonOnOpenBooking(personId: string): boolean {
    return this.db
      .prepare("SELECT 1 FROM bookings WHERE (prosecutor_id = ? OR lawyer_id = ?) AND status IN ('scheduled', 'escorting', 'in_room', 'in_session', 'displaced') LIMIT 1")
      .get(personId, personId) !== undefined;
  }

  /** Booking ids: B<date>-<number of the day>, e.g. B20261127-007. */
  static bookingId(date: IsoDate, n: number): string {
    return `B${date.replace(/-/g, '')}-${String(n).padStart(3, '0')}`;
  }

  /** The number the next booking of the day gets. */
  nextNumber(date: IsoDate): number {
    const prefix = `B${date.replace(/-/g, '')}-`;
    const row = this.db.prepare("SELECT MAX(CAST(SUBSTR(id, ?) AS INTEGER)) AS n FROM bookings WHERE id LIKE ? || '%'").get(prefix.length + 1, prefix) as { n: number | null };
    return (row.n ?? 0) + 1;
  }

  nextId(date: IsoDate): string {
    return ScheduleStore.bookingId(date, this.nextNumber(date));
  }

  private hold(b: Booking): void {
    const insert = this.db.prepare('INSERT INTO booking_holds (resource, date, minute, booking_id) VALUES (?, ?, ?, ?)');
    for (const [resource, from, to] of holdsOf(b)) {
      for (let m = from; m < to; m++) {
        try {
          insert.run(resource, b.date, m, b.id);
        } catch (err) {
          if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new HoldConflict(resource);
          throw err;
        }
      }
    }
  }

  releaseHolds(id: string): void {
    this.db.prepare('DELETE FROM booking_holds WHERE booking_id = ?').run(id);
  }

  private history(id: string, actor: string, action: string, before: unknown, after: unknown, note: string | null): void {
    this.db
      .prepare('INSERT INTO booking_history (booking_id, at, actor, action, before, after, note) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id, new Date().toISOString(), actor, action, before === null ? null : JSON.stringify(before), after === null ? null : JSON.stringify(after), note);
    this.audit.append({ actor, action: `booking.${action}`, subject: `booking:${id}`, detail: { before, after, note } });
  }

  insert(b: Booking, actor: string, note: string | null = null): BookingRow {
    const now = new Date().toISOString();
    const q = b.request;
    this.db
      .prepare(
        `INSERT INTO bookings (id, date, room_id, start_min, end_min, escort_before_min, changeover_after_min, status,
          case_number, detainee_id, procuratorate_id, priority_class, prosecutor_id, lawyer_role, lawyer_id, lawyer_named,
          session_kind, requested_start_min, duration_min, pinned_room_id, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'scheduled', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
      )
      .run(
        b.id, b.date, b.roomId, b.start, b.end, b.escortBeforeMin, b.changeoverAfterMin,
        q.caseNumber, q.detaineeId, q.procuratorateId, q.priorityClass, q.prosecutorId, q.lawyerRole, b.lawyerId, q.lawyerId ? 1 : 0,
        q.sessionKind, q.requestedStart, q.durationMin, q.roomId ?? null, now, now
      );
    this.hold(b);
    const row = this.row(b.id) as BookingRow;
    this.history(b.id, actor, 'created', null, viewOf(row), note);
    return row;
  }

  /** Moves a booking (room, time, lawyer); re-holds what it holds. */
  place(b: Booking, actor: string, action: string, note: string | null = null): BookingRow {
    const before = this.row(b.id);
    if (!before) throw new Error(`no booking ${b.id}`);
    this.releaseHolds(b.id);
    const status: LiveStatus = before.status === 'displaced' ? 'scheduled' : before.status;
    this.db
      .prepare('UPDATE bookings SET date = ?, room_id = ?, start_min = ?, end_min = ?, lawyer_id = ?, status = ?, updated_at = ?, version = version + 1 WHERE id = ?')
      .run(b.date, b.roomId, b.start, b.end, b.lawyerId, status, new Date().toISOString(), b.id);
    this.hold({ ...b, status: 'booked' });
    const after = this.row(b.id) as BookingRow;
    this.history(b.id, actor, action, viewOf(before), viewOf(after), note);
    return after;
  }

  setStatus(id: string, status: LiveStatus, actor: string, note: string | null = null): BookingRow {
    const before = this.row(id);
    if (!before) throw new Error(`no booking ${id}`);
    if (!HOLDING.includes(status)) this.releaseHolds(id);
    this.db.prepare('UPDATE bookings SET status = ?, updated_at = ?, version = version + 1 WHERE id = ?').run(status, new Date().toISOString(), id);
    const after = this.row(id) as BookingRow;
    this.history(id, actor, `status.${status}`, viewOf(before), viewOf(after), note);
    return after;
  }

  /**
   * Compare-and-set of the live status: moves the booking from exactly `seen` (status and version)
   * to `status`, or throws StatusChanged naming what it is now. Holds are released for an ended
   * status; history and audit in the caller's transaction.
   */
  setStatusIf(id: string, seen: { status: LiveStatus; version: number }, status: LiveStatus, actor: string, note: string | null = null): BookingRow {
    const before = this.row(id);
    if (!before) throw new Error(`no booking ${id}`);
    if (before.status !== seen.status || before.version !== seen.version) throw new StatusChanged(before);
    return this.setStatus(id, status, actor, note);
  }

  /** An audit entry of the schedule that is not a booking change (e.g. a released orphaned session). */
  auditEntry(actor: string, action: string, subject: string, detail: Record<string, unknown>): void {
    this.audit.append({ actor, action, subject, detail });
  }

  historyOf(id: string): Array<{ seq: number; at: string; actor: string; action: string; note: string | null }> {
    return this.db.prepare('SELECT seq, at, actor, action, note FROM booking_history WHERE booking_id = ? ORDER BY seq').all(id) as Array<{
      seq: number; at: string; actor: string; action: string; note: string | null;
    }>;
  }

  notice(bookingId: string, recipient: string, message: string): void {
    this.db.prepare('INSERT INTO notices (booking_id, at, recipient, message) VALUES (?, ?, ?, ?)').run(bookingId, new Date().toISOString(), recipient, message);
  }

  noticesOf(bookingId: string): Array<{ at: string; recipient: string; message: string }> {
    return this.db.prepare('SELECT at, recipient, message FROM notices WHERE booking_id = ? ORDER BY seq').all(bookingId) as Array<{ at: string; recipient: string; message: string }>;
  }

  // --- roster and reservations -------------------------------------------------
  dutyShifts(date: IsoDate): DutyShift[] {
    return (this.db.prepare('SELECT lawyer_id, date, start_min, end_min FROM duty_shifts WHERE date = ? ORDER BY start_min').all(date) as Array<{
      lawyer_id: string; date: string; start_min: number; end_min: number;
    }>).map((r) => ({ lawyerId: r.lawyer_id, date: r.date, start: r.start_min, end: r.end_min }));
  }

  dutyShiftRows(date: IsoDate): Array<{ id: string; lawyerId: string; date: string; start: number; end: number }> {
    return (this.db.prepare('SELECT * FROM duty_shifts WHERE date = ? ORDER BY start_min, lawyer_id').all(date) as Array<{
      id: string; lawyer_id: string; date: string; start_min: number; end_min: number;
    }>).map((r) => ({ id: r.id, lawyerId: r.lawyer_id, date: r.date, start: r.start_min, end: r.end_min }));
  }

  addDutyShift(id: string, s: DutyShift, actor: string): void {
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO duty_shifts (id, lawyer_id, date, start_min, end_min) VALUES (?, ?, ?, ?, ?)').run(id, s.lawyerId, s.date, s.start, s.end);
      this.audit.append({ actor, action: 'roster.shift_added', subject: `lawyer:${s.lawyerId}`, detail: { id, ...s } });
    })();
  }

  dutyShiftById(id: string): { id: string; lawyerId: string; date: string; start: number; end: number } | undefined {
    const r = this.db.prepare('SELECT * FROM duty_shifts WHERE id = ?').get(id) as { id: string; lawyer_id: string; date: string; start_min: number; end_min: number } | undefined;
    return r ? { id: r.id, lawyerId: r.lawyer_id, date: r.date, start: r.start_min, end: r.end_min } : undefined;
  }

  /** Dates from `from` on that have bookings which are not over (not finished, cancelled, no-show or displaced). */
  liveDates(from: IsoDate): IsoDate[] {
    return (this.db.prepare("SELECT DISTINCT date FROM bookings WHERE date >= ? AND status IN ('scheduled', 'escorting', 'in_room', 'in_session') ORDER BY date").all(from) as Array<{ date: string }>).map((r) => r.date);
  }

  removeDutyShift(id: string, actor: string): boolean {
    return this.db.transaction(() => {
      const res = this.db.prepare('DELETE FROM duty_shifts WHERE id = ?').run(id);
      if (res.changes) this.audit.append({ actor, action: 'roster.shift_removed', subject: `duty_shift:${id}`, detail: {} });
      return res.changes > 0;
    })();
  }

  reservedWindows(): ReservedWindow[] {
    return (this.db.prepare('SELECT * FROM reserved_windows ORDER BY start_min').all() as Array<{
      id: string; priority_class: 'higher' | 'sibling'; date: string | null; weekday: number | null; start_min: number; end_min: number; room_id: string | null; room_kind: 'interrogation' | 'plea' | null;
    }>).map((r) => ({
      id: r.id,
      priorityClass: r.priority_class,
      start: r.start_min,
      end: r.end_min,
      ...(r.date ? { date: r.date } : {}),
      ...(r.weekday ? { weekday: r.weekday as 1 } : {}),
      ...(r.room_id ? { roomId: r.room_id } : {}),
      ...(r.room_kind ? { roomKind: r.room_kind } : {}),
    }));
  }

  addReservedWindow(w: ReservedWindow, actor: string): void {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO reserved_windows (id, priority_class, date, weekday, start_min, end_min, room_id, room_kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(w.id, w.priorityClass, w.date ?? null, w.weekday ?? null, w.start, w.end, w.roomId ?? null, w.roomKind ?? null);
      this.audit.append({ actor, action: 'reserved_window.added', subject: `reserved_window:${w.id}`, detail: { ...w } });
    })();
  }

  removeReservedWindow(id: string, actor: string): boolean {
    return this.db.transaction(() => {
      const res = this.db.prepare('DELETE FROM reserved_windows WHERE id = ?').run(id);
      if (res.changes) this.audit.append({ actor, action: 'reserved_window.removed', subject: `reserved_window:${id}`, detail: {} });
      return res.changes > 0;
    })();
  }

  setRoomStatus(roomId: string, status: 'active' | 'out_of_service', actor: string): boolean {
    return this.db.transaction(() => {
      const res = this.db.prepare('UPDATE rooms SET status = ? WHERE id = ? AND status <> ?').run(status, roomId, status);
      if (res.changes) this.audit.append({ actor, action: 'room.status', subject: `room:${roomId}`, detail: { status } });
      return res.changes > 0;
    })();
  }

  roomStatuses(): Map<string, 'active' | 'out_of_service'> {
    return new Map((this.db.prepare('SELECT id, status FROM rooms').all() as Array<{ id: string; status: 'active' | 'out_of_service' }>).map((r) => [r.id, r.status]));
  }
}
