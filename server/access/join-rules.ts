// Who may join which booking's session, and until when: joining is personal.
// A prosecutor joins only the bookings they are booked on, or the bookings of a
// colleague of their department when the department's head allows it (an
// audited, revocable allowance: server/access/department-allowances.ts); a duty
// or defence lawyer only the booking they witness or defend; nobody outside the
// booking's window (from escort time minus joinOpensMinutesBefore to the end
// plus joinClosesMinutesAfter). The display name comes from the account, never
// from the client. Checked on every join; the session removes a live party at
// the window's end (server/session/session.ts). The home page lists the same
// answers (GET /api/me/bookings): the web never copies these rules.
import type { Config } from '../config.js';
import type { ScheduleService } from '../schedule/schedule-service.js';
import type { BookingRow } from '../schedule/schedule-store.js';
import type { PartyRole } from '../signalling/protocol.js';
import type { Principal } from './authorization.js';
import type { GuestLinkRecord, GuestLinkState } from './guest-links.js';

type Person = Extract<Principal, { kind: 'user' }>;

export interface JoinRight {
  bookingId: string;
  role: Exclude<PartyRole, 'room'>;
  displayName: string;
  /** One live party per person and role: a second join by the same key replaces the first. */
  personKey: string;
  notBefore: Date;
  until: Date;
  /** Booked on it, or standing in for a colleague under the department head's allowance (its id). */
  basis: { kind: 'booked' } | { kind: 'department'; allowanceId: string; departmentId: string };
}

export type JoinVerdict = { ok: true; right: JoinRight } | { ok: false; code: 'forbidden' | 'not_found'; message: string };

/** The department heads' allowances, as the join rules ask about them. */
export interface DepartmentAllowanceLookup {
  /**
   * The allowance under which `person` may join bookings of `prosecutorId` (a
   * colleague of the same department, granted by that department's current
   * head and neither revoked nor expired), or null.
   */
  allowanceFor(person: Person, prosecutorId: string, now: Date): { allowanceId: string; departmentId: string } | null;
  /** The colleagues whose bookings `person` may join under an allowance now. */
  colleaguesOf(person: Person, now: Date): string[];
}

const noAllowances: DepartmentAllowanceLookup = { allowanceFor: () => null, colleaguesOf: () => [] };

/** A booking a person may join, as the home page lists it. */
export interface PersonBooking {
  bookingId: string;
  date: string;
  roomId: string;
  start: number;
  end: number;
  status: BookingRow['status'];
  caseNumber: string;
  sessionKind: BookingRow['session_kind'];
  role: JoinRight['role'];
  basis: JoinRight['basis']['kind'];
  notBefore: Date;
  until: Date;
  /** May join now (the session itself must also be open). */
  joinable: boolean;
  /** Why not, when not. */
  why: string | null;
}

/** Bookings whose session may be live. */
const JOINABLE = new Set<BookingRow['status']>(['scheduled', 'escorting', 'in_room', 'in_session']);

/** A guest link's party role: a defence lawyer without an account is the booking's lawyer; a suspect on bail is a guest. */
const GUEST_PARTY_ROLE: ReadonlyMap<GuestLinkRecord['role'], JoinRight['role']> = new Map([
  ['defence_lawyer', 'lawyer'],
  ['bail_suspect', 'guest'],
]);

export class JoinRules {
  constructor(private readonly schedule: ScheduleService, private readonly config: Config, private readonly allowances: DepartmentAllowanceLookup = noAllowances) {}

  /** The window in which a booking's parties may be in its session (epoch ms). */
  window(row: BookingRow): { notBefore: Date; until: Date } {
    const clock = this.schedule.clock;
    return {
      notBefore: new Date(clock.toEpochMs(row.date, row.start_min - row.escort_before_min - this.config.schedule.joinOpensMinutesBefore)),
      until: new Date(clock.toEpochMs(row.date, row.end_min + this.config.schedule.joinClosesMinutesAfter)),
    };
  }

  /** In which role, and on what basis, this person is a party of this booking (regardless of time). */
  private partOf(p: Person, row: BookingRow, now: Date): { role: JoinRight['role']; basis: JoinRight['basis'] } | null {
    if (p.roles.includes('prosecutor')) {
      if (row.prosecutor_id === p.userId) return { role: 'prosecutor', basis: { kind: 'booked' } };
      const allowance = this.allowances.allowanceFor(p, row.prosecutor_id, now);
      if (allowance) return { role: 'prosecutor', basis: { kind: 'department', ...allowance } };
    }
    if (row.lawyer_id === p.userId && (row.lawyer_role === 'duty' ? p.roles.includes('duty_lawyer') : p.roles.includes('defence_lawyer'))) return { role: 'lawyer', basis: { kind: 'booked' } };
    return null;
  }

  private verdict(p: Person, row: BookingRow, now: Date): JoinVerdict {
    const part = this.partOf(p, row, now);
    if (!part) return { ok: false, code: 'forbidden', message: 'you are not booked on this session' };
    if (!JOINABLE.has(row.status)) return { ok: false, code: 'forbidden', message: `this booking is ${row.status}` };
    const w = this.window(row);
    if (now < w.notBefore) return { ok: false, code: 'forbidden', message: `this session opens at ${w.notBefore.toISOString()}` };
    if (now >= w.until) return { ok: false, code: 'forbidden', message: `this session's window ended at ${w.until.toISOString()}` };
    // The session's timers run on this process's clock: give the end in it.
    const skew = this.schedule.clock.nowMs() - Date.now();
    return {
      ok: true,
      right: { bookingId: row.id, role: part.role, displayName: p.displayName, personKey: `user:${p.userId}`, notBefore: w.notBefore, until: new Date(w.until.getTime() - skew), basis: part.basis },
    };
  }

  /** May this signed-in person join this booking now, and as whom? */
  forPerson(p: Person, bookingId: string, now = new Date(this.schedule.clock.nowMs())): JoinVerdict {
    const row = this.schedule.store.row(bookingId);
    if (!row) return { ok: false, code: 'not_found', message: `no booking ${bookingId}` };
    return this.verdict(p, row, now);
  }

  /**
   * The bookings this person is a party of (booked, or under an allowance) from
   * today to `days` ahead whose window has not ended, each with the same answer
   * a join would get now.
   */
  bookingsOf(p: Person, now = new Date(this.schedule.clock.nowMs()), days = 7): PersonBooking[] {
    const clock = this.schedule.clock;
    const today = clock.local(now.getTime()).date;
    const last = clock.local(now.getTime() + days * 86_400_000).date;
    const prosecutorIds = p.roles.includes('prosecutor') ? [p.userId, ...this.allowances.colleaguesOf(p, now)] : [];
    const lawyer = p.roles.includes('duty_lawyer') || p.roles.includes('defence_lawyer') ? p.userId : null;
    const out: PersonBooking[] = [];
    for (const row of this.schedule.store.rowsNaming({ prosecutorIds, lawyerId: lawyer, from: today, to: last })) {
      const part = this.partOf(p, row, now);
      if (!part || !JOINABLE.has(row.status)) continue;
      const w = this.window(row);
      if (now >= w.until) continue;
      const v = this.verdict(p, row, now);
      out.push({
        bookingId: row.id, date: row.date, roomId: row.room_id, start: row.start_min, end: row.end_min, status: row.status, caseNumber: row.case_number, sessionKind: row.session_kind,
        role: part.role, basis: part.basis.kind, notBefore: w.notBefore, until: w.until, joinable: v.ok, why: v.ok ? null : v.message,
      });
    }
    return out;
  }

  /**
   * May the holder of this guest link join now? Checked on every join: the link as it
   * is now (not revoked, not locked, bound to a device), its booking only, the booking
   * joinable, inside the booking's window. The display name is the one the link was
   * issued for.
   */
  forGuest(link: (GuestLinkRecord & { state: GuestLinkState }) | null, bookingId: string | undefined, now = new Date(this.schedule.clock.nowMs())): JoinVerdict {
    if (!link) return { ok: false, code: 'forbidden', message: 'this guest link is not valid' };
    if (link.revokedAt) return { ok: false, code: 'forbidden', message: 'this guest link has been revoked' };
    if (link.lockedAt) return { ok: false, code: 'forbidden', message: 'this guest link is locked' };
    if (!link.deviceBound) return { ok: false, code: 'forbidden', message: 'this guest link has not been redeemed on this device' };
    if (bookingId !== undefined && bookingId !== link.bookingId) return { ok: false, code: 'forbidden', message: 'this guest link is for another booking' };
    const row = this.schedule.store.row(link.bookingId);
    if (!row) return { ok: false, code: 'not_found', message: `no booking ${link.bookingId}` };
    if (!JOINABLE.has(row.status)) return { ok: false, code: 'forbidden', message: `this booking is ${row.status}` };
    const w = this.window(row);
    if (now < w.notBefore) return { ok: false, code: 'forbidden', message: `this session opens at ${w.notBefore.toISOString()}` };
    if (now >= w.until) return { ok: false, code: 'forbidden', message: `this session's window ended at ${w.until.toISOString()}` };
    // The session's timers run on this process's clock: give the end in it.
    const skew = this.schedule.clock.nowMs() - Date.now();
    const role = GUEST_PARTY_ROLE.get(link.role) ?? 'guest';
    // Booked on it by its own prosecutor, who issued the link.
    return { ok: true, right: { bookingId: link.bookingId, role, displayName: link.guestName, personKey: `guest:${link.id}`, notBefore: w.notBefore, until: new Date(w.until.getTime() - skew), basis: { kind: 'booked' } } };
  }
}
