// Which live bookings a change of the site (roster, reserved windows, room
// status) leaves standing against the rules: the booking itself is untouched,
// but its room is out of service, its duty lawyer is off duty, or its room slot
// now lies in time reserved for a higher class. The staff board shows these as
// flags; a change that would add flags is refused or applied by the staff
// member's choice.
import { PRIORITY_RANK, type Booking, type Site } from './model.js';
import { isoWeekday } from './windows.js';
import { roomSlot } from './scheduler.js';

export const AttentionReasons = ['room_out_of_service', 'lawyer_not_on_duty', 'reserved'] as const;
export type AttentionReason = (typeof AttentionReasons)[number];

/** What is wrong with a booked booking on `site` as it now is (empty: nothing). */
export function attentionOf(b: Booking, site: Site): AttentionReason[] {
  const out: AttentionReason[] = [];
  const room = site.rooms.find((r) => r.id === b.roomId);
  if (!room || !room.active) out.push('room_out_of_service');
  if (b.request.lawyerRole === 'duty') {
    const onDuty = site.dutyRoster.some((s) => s.lawyerId === b.lawyerId && s.date === b.date && s.start <= b.start && s.end >= b.end);
    if (!onDuty) out.push('lawyer_not_on_duty');
  }
  const slot = roomSlot(b);
  const weekday = isoWeekday(b.date);
  const rank = PRIORITY_RANK[b.request.priorityClass];
  const reserved = site.reservedWindows.some(
    (w) =>
      PRIORITY_RANK[w.priorityClass] > rank &&
      (w.date !== undefined ? w.date === b.date : w.weekday === undefined || w.weekday === weekday) &&
      (w.roomId !== undefined ? w.roomId === b.roomId : w.roomKind === undefined || w.roomKind === room?.kind) &&
      w.start < slot.end &&
      slot.start < w.end
  );
  if (reserved) out.push('reserved');
  return out;
}

/** Reasons present on `after` and not on `before`: what a change added. */
export function added(before: readonly AttentionReason[], after: readonly AttentionReason[]): AttentionReason[] {
  return after.filter((r) => !before.includes(r));
}
