// The schedule's rules, checked from scratch, independent of the scheduler's own code: used by the
// scheduler's unit and property tests and by any test that must show a stored day keeps the rules.
import { PRIORITY_RANK, type Booking, type BookingRequest, type PriorityClass, type ReservedWindow, type Site, type TimeRange } from '../../server/schedule/model.js';
import { isoWeekday, windowsOn } from '../../server/schedule/windows.js';

export const slotOf = (b: Booking): TimeRange => ({ start: b.start - b.escortBeforeMin, end: b.end + b.changeoverAfterMin });
export const detOf = (b: Booking): TimeRange => ({ start: b.start - b.escortBeforeMin, end: b.end + b.escortBeforeMin });
export const cross = (a: TimeRange, b: TimeRange): boolean => a.start < b.end && b.start < a.end;

export function expectedEscort(site: Site, q: BookingRequest): number {
  return q.sessionKind === 'bail_hearing' ? 0 : (q.escortBeforeMin ?? site.defaultEscortBeforeMin);
}

/** Reserved windows that keep a request of class `cls` out of `roomId` on `date`. */
export function reservedAgainst(site: Site, roomId: string, date: string, cls: PriorityClass): ReservedWindow[] {
  const room = site.rooms.find((r) => r.id === roomId);
  return site.reservedWindows.filter(
    (w) =>
      PRIORITY_RANK[w.priorityClass] > PRIORITY_RANK[cls] &&
      (w.date !== undefined ? w.date === date : w.weekday === undefined || w.weekday === isoWeekday(date)) &&
      (w.roomId !== undefined ? w.roomId === roomId : w.roomKind === undefined || w.roomKind === room?.kind),
  );
}

/**
 * Every rule, checked from scratch; returns the violations. `overrun` ids (sessions that ran long) may
 * run past their window, into a reserved window or past their duty lawyer's shift.
 * Room pins are checked unless `moved` (move and overrun may put a booking in another allowed room).
 */
export function violations(site: Site, bookings: readonly Booking[], overrun: ReadonlySet<string> = new Set(), moved = false): string[] {
  const out: string[] = [];
  const live = bookings.filter((b) => b.status === 'booked');
  for (const b of live) {
    const q = b.request;
    const room = site.rooms.find((r) => r.id === b.roomId);
    if (room === undefined || !room.active) out.push(`${b.id}: room ${b.roomId} missing or inactive`);
    else if (!site.roomKinds[q.sessionKind].includes(room.kind)) out.push(`${b.id}: ${q.sessionKind} in ${room.kind} room`);
    if (!moved && q.roomId !== undefined && q.roomId !== b.roomId) out.push(`${b.id}: pinned to ${q.roomId}, in ${b.roomId}`);
    if (b.escortBeforeMin !== expectedEscort(site, q)) out.push(`${b.id}: escort ${b.escortBeforeMin}`);
    if (b.changeoverAfterMin !== (q.changeoverAfterMin ?? site.defaultChangeoverAfterMin)) out.push(`${b.id}: changeover`);
    if (!overrun.has(b.id)) {
      if (b.end - b.start !== q.durationMin) out.push(`${b.id}: duration`);
      const s = slotOf(b);
      if (!windowsOn(site, b.date).some((w) => s.start >= w.start && s.end <= w.end)) out.push(`${b.id}: outside windows`);
      for (const w of reservedAgainst(site, b.roomId, b.date, q.priorityClass)) if (cross(s, w)) out.push(`${b.id}: in reserved window ${w.id}`);
      if (q.lawyerRole === 'duty' && !site.dutyRoster.some((d) => d.lawyerId === b.lawyerId && d.date === b.date && d.start <= b.start && d.end >= b.end)) {
        out.push(`${b.id}: duty lawyer ${b.lawyerId} not on duty`);
      }
    }
    if (q.lawyerId !== undefined && q.lawyerId !== b.lawyerId) out.push(`${b.id}: lawyer changed`);
  }
  for (let i = 0; i < live.length; i++) {
    for (let j = i + 1; j < live.length; j++) {
      const a = live[i];
      const b = live[j];
      if (a === undefined || b === undefined || a.date !== b.date) continue;
      if (a.roomId === b.roomId && cross(slotOf(a), slotOf(b))) out.push(`${a.id}/${b.id}: room`);
      if (a.request.detaineeId === b.request.detaineeId && cross(detOf(a), detOf(b))) out.push(`${a.id}/${b.id}: detainee`);
      if (a.request.prosecutorId === b.request.prosecutorId && cross(a, b)) out.push(`${a.id}/${b.id}: prosecutor`);
      if (a.lawyerId === b.lawyerId && cross(a, b)) out.push(`${a.id}/${b.id}: lawyer`);
    }
  }
  return out;
}
