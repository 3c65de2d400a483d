// Property: an overrun never displaces, or pushes later, a booking of a higher
// class while bookings of a lower class could have yielded to it. Checked by an
// oracle that shares nothing with the overrun's search: after the overrun, take
// every booking the overrun moved later or displaced, remove every booking of a
// lower class from the final schedule (the overrunning one stays: it never
// yields), and try each minute from the booking's own start up to where it went
// (or to the end of the day): if it fits at any of them, a lower class could have
// made room and the overrun broke priority.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PRIORITY_RANK, defaultSite, type Booking, type BookingRequest, type DutyShift, type PriorityClass, type Room, type Site } from '../../server/schedule/model.js';
import { Schedule } from '../../server/schedule/scheduler.js';
import { violations } from '../helpers/schedule-rules.js';

const MON = '2025-03-03';

const Request = fc.record({
  cls: fc.constantFrom<PriorityClass>('district', 'district', 'district', 'sibling', 'higher', 'higher'),
  kind: fc.constantFrom('plea_hearing', 'arraignment', 'plea_hearing') as fc.Arbitrary<'plea_hearing' | 'arraignment'>,
  start: fc.integer({ min: 0, max: 100 }),
  duration: fc.constantFrom(8, 10, 12, 15, 20),
  detainee: fc.integer({ min: 0, max: 9 }),
  prosecutor: fc.integer({ min: 0, max: 5 }),
  lawyer: fc.integer({ min: 0, max: 7 }),
  duty: fc.boolean(),
});

const Day = fc.record({
  plea: fc.integer({ min: 1, max: 3 }),
  interrogation: fc.integer({ min: 0, max: 2 }),
  secondWindow: fc.boolean(),
  requests: fc.array(Request, { minLength: 6, maxLength: 28 }),
  pick: fc.nat(),
  extra: fc.integer({ min: 4, max: 45 }),
});

function siteOf(d: { plea: number; interrogation: number; secondWindow: boolean }): Site {
  const rooms: Room[] = [
    ...Array.from({ length: d.plea }, (_, i): Room => ({ id: `plea-${i + 1}`, kind: 'plea', active: true })),
    ...Array.from({ length: d.interrogation }, (_, i): Room => ({ id: `interrogation-${i + 1}`, kind: 'interrogation', active: true })),
  ];
  const windows = [{ start: 540, end: 650 }, ...(d.secondWindow ? [{ start: 840, end: 900 }] : [])];
  const roster: DutyShift[] = Array.from({ length: 4 }, (_, i) => ({ lawyerId: `duty-${i}`, date: MON, start: 530, end: 910 }));
  return defaultSite({ rooms, dateWindows: { [MON]: windows }, dutyRoster: roster });
}

/** Could `h` (as it was before the overrun) start anywhere in [from, to) once every lower class is gone? */
function couldFitWithoutLower(site: Site, finalBookings: readonly Booking[], overrunId: string, h: Booking, before: Booking, from: number, to: number): number | null {
  const rank = PRIORITY_RANK[h.request.priorityClass];
  const kept = finalBookings.filter((b) => b.id === overrunId || b.id === h.id || PRIORITY_RANK[b.request.priorityClass] >= rank);
  for (let s = from; s < to; s++) {
    const probe = new Schedule(site, kept.map((b) => (b.id === h.id ? { ...b, status: b.status === 'displaced' ? 'displaced' : 'booked' } : b)));
    const res = probe.move(h.id, { start: s });
    if (res.ok) return s;
    void before;
  }
  return null;
}

describe('overrun priority', () => {
  it('never displaces or pushes a higher class later while a lower class could yield', () => {
    const seen = { runs: 0, priorityClashed: 0, movedAside: 0, pushedOrDisplacedPriority: 0 };
    fc.assert(
      fc.property(Day, (d) => {
        const site = siteOf(d);
        const s = new Schedule(site);
        d.requests.forEach((q, i) => {
          const base = {
            requestId: `q${i}`, caseNumber: `C${i}`, detaineeId: `D${q.detainee}`, procuratorateId: q.cls, priorityClass: q.cls, prosecutorId: `P${q.prosecutor}`,
            sessionKind: q.kind, date: MON, requestedStart: 543 + q.start, durationMin: q.duration,
          };
          // Named lawyers only (defence, or a named duty lawyer on the roster).
          const req: BookingRequest = q.duty ? { ...base, lawyerRole: 'duty', lawyerId: `duty-${q.lawyer % 4}` } : { ...base, lawyerRole: 'defence', lawyerId: `L${q.lawyer}` };
          const placed = s.place(req);
          // Crowd the day: a refused request takes the nearest alternative.
          if (!placed.ok && placed.alternatives[0]) {
            const alt = placed.alternatives[0];
            s.place({ ...req, requestedStart: alt.start, roomId: alt.roomId });
          }
        });
        const live = s.bookings(MON).filter((b) => b.status === 'booked');
        if (live.length < 3) return;
        // Overrun one of the earlier bookings, so that there is a day left to re-place into.
        const early = live.filter((b) => b.start < 600);
        const x = (early.length ? early : live)[d.pick % (early.length || live.length)] as Booking;
        const newEnd = Math.min(x.end + d.extra, 1440 - 10);
        const before = new Map(live.map((b) => [b.id, b]));
        const res = s.overrun(x.id, newEnd);
        seen.runs++;
        const after = s.bookings(MON);
        // The schedule stays valid: nothing double-booked (the overrunning one may leave its window).
        expect(violations(site, after, new Set([x.id]), true)).toEqual([]);
        const affected = [...res.changed.map((c) => c.bookingId), ...res.unplaceable.map((u) => u.id)];
        if (affected.some((id) => PRIORITY_RANK[before.get(id)!.request.priorityClass] > 0)) seen.priorityClashed++;
        if ((res.movedAside ?? []).length) seen.movedAside++;
        for (const id of affected) {
          const was = before.get(id)!;
          const now = s.get(id)!;
          if (PRIORITY_RANK[was.request.priorityClass] === 0) continue;
          const displaced = now.status === 'displaced';
          if (!displaced && now.start <= was.start) continue;
          seen.pushedOrDisplacedPriority++;
          const end = displaced ? 1440 : now.start;
          const at = couldFitWithoutLower(site, after, x.id, now, was, was.start, end);
          expect(at, `${id} (${was.request.priorityClass}) ${displaced ? 'displaced' : `pushed ${was.start}→${now.start}`} though it fits at ${at} if lower classes yield`).toBeNull();
        }
        // Displacement falls on the lowest classes first: nothing displaced above a lower class kept in place of it.
        const ranks = res.unplaceable.map((u) => PRIORITY_RANK[u.request.priorityClass]);
        expect([...ranks].sort((a, b) => a - b)).toEqual(ranks);
      }),
      { numRuns: 300, seed: 20261201 }
    );
    // The generator really exercised the interesting case: priority bookings in the overrun's way,
    // and lower classes moved aside to keep them.
    expect(seen.runs).toBeGreaterThan(250);
    expect(seen.priorityClashed / seen.runs).toBeGreaterThan(0.3);
    expect(seen.movedAside / seen.runs).toBeGreaterThan(0.1);
    process.stdout.write(`[overrun-priority] ${JSON.stringify(seen)}\n`);
  });
});
