// Who may join which booking's session, and until when: joining is personal.
// A prosecutor joins only the bookings they are booked on; a duty or defence
// lawyer only the booking they witness or defend; nobody outside the booking's
// window (from escort time minus joinOpensMinutesBefore to the end plus
// joinClosesMinutesAfter). The display name comes from the account, never from
// the client. Checked on every join; the session removes a live party at the
// window's end (server/session/session.ts).
import type { Config } from '../config.js';
import type { ScheduleService } from '../schedule/schedule-service.js';
import type { BookingRow } from '../schedule/schedule-store.js';
import type { PartyRole } from '../signalling/protocol.js';
import type { Principal } from './authorization.js';

export interface JoinRight {
  bookingId: string;
  role: Exclude<PartyRole, 'room'>;
  displayName: string;
  /** One live party per person and role: a second join by the same key replaces the first. */
  personKey: string;
  notBefore: Date;
  until: Date;
}

export type JoinVerdict = { ok: true; right: JoinRight } | { ok: false; code: 'forbidden' | 'not_found'; message: string };

/** Bookings whose session may be live. */
const JOINABLE = new Set<BookingRow['status']>(['scheduled', 'escorting', 'in_room', 'in_session']);

export class JoinRules {
  constructor(private readonly schedule: ScheduleService, private readonly config: Config) {}

  /** The window in which a booking's parties may be in its session (epoch ms). */
  window(row: BookingRow): { notBefore: Date; until: Date } {
    const clock = this.schedule.clock;
    return {
      notBefore: new Date(clock.toEpochMs(row.date, row.start_min - row.escort_before_min - this.config.schedule.joinOpensMinutesBefore)),
      until: new Date(clock.toEpochMs(row.date, row.end_min + this.config.schedule.joinClosesMinutesAfter)),
    };
  }

  /** May this signed-in person join this booking now, and as whom? */
  forPerson(p: Extract<Principal, { kind: 'user' }>, bookingId: string, now = new Date(this.schedule.clock.nowMs())): JoinVerdict {
    const row = this.schedule.store.row(bookingId);
    if (!row) return { ok: false, code: 'not_found', message: `no booking ${bookingId}` };
    let role: JoinRight['role'] | null = null;
    if (p.roles.includes('prosecutor') && row.prosecutor_id === p.userId) role = 'prosecutor';
    else if (row.lawyer_id === p.userId && (row.lawyer_role === 'duty' ? p.roles.includes('duty_lawyer') : p.roles.includes('defence_lawyer'))) role = 'lawyer';
    if (!role) return { ok: false, code: 'forbidden', message: 'you are not booked on this session' };
    if (!JOINABLE.has(row.status)) return { ok: false, code: 'forbidden', message: `this booking is ${row.status}` };
    const w = this.window(row);
    if (now < w.notBefore) return { ok: false, code: 'forbidden', message: `this session opens at ${w.notBefore.toISOString()}` };
    if (now >= w.until) return { ok: false, code: 'forbidden', message: `this session's window ended at ${w.until.toISOString()}` };
    // The session's timers run on this process's clock: give the end in it.
    const skew = this.schedule.clock.nowMs() - Date.now();
    return { ok: true, right: { bookingId, role, displayName: p.displayName, personKey: `user:${p.userId}`, notBefore: w.notBefore, until: new Date(w.until.getTime() - skew) } };
  }
}
