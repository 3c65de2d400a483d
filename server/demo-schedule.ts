// A day on the real schedule for the embedded demo (`npm start`), planned around
// the current time on first start (no bookings at all), through the schedule
// service as staff would place it:
// - one booking live now: the demo prosecutor and the demo duty lawyer in a plea
//   workroom, starting at the next slot, marked "in room" (its session opens and
//   the synthetic room agent joins it), so the newcomer signs in and joins it;
// - a later booking for the same prosecutor with the demo defence lawyer (the
//   home page shows its window, not yet open);
// - a sample of requests after those, for the staff board, with a duty-lawyer
//   roster of the demo duty lawyers (the scheduler picks them).
// When today has no working time left, the sample goes to the next working day
// and nothing is live. On a later start (bookings exist), ensureDemoLive gives
// the demo prosecutor a live booking again when none is joinable now. Never in
// production: only main.ts --demo calls these.
import type { ScheduleService } from './schedule/schedule-service.js';
import type { BookingRequest, IsoDate, Minute } from './schedule/model.js';
import { windowsOn } from './schedule/windows.js';

export interface DemoCast {
  prosecutors: readonly string[];
  dutyLawyers: readonly string[];
  defenceLawyers: readonly string[];
}

export interface SeededDay {
  date: IsoDate;
  placed: number;
  /** The booking whose session is open now (null when today has no room for it). */
  live: string | null;
  /** The demo prosecutor's later booking. */
  later: string | null;
}

function nextDate(date: IsoDate): IsoDate {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

function nextWorkingDay(service: ScheduleService, from: IsoDate): IsoDate | null {
  let date = from;
  for (let i = 0; i < 14; i++) {
    if (windowsOn(service.store.site(date), date).length > 0) return date;
    date = nextDate(date);
  }
  return null;
}

const slotUp = (minute: number, slot: number) => Math.ceil(minute / slot) * slot;

/**
 * A booking for the demo prosecutor and duty lawyer starting at the next slot,
 * marked "in room" (its session opens), unless one of theirs is already joinable
 * now. Returns its id, or null when nothing was needed or today has no room for it.
 */
export async function ensureDemoLive(service: ScheduleService, cast: DemoCast, actor = 'demo'): Promise<string | null> {
  const prosecutor = cast.prosecutors[0];
  const dutyLawyer = cast.dutyLawyers[0];
  if (!prosecutor || !dutyLawyer) return null;
  const now = service.clock.local();
  const live = service.store.rows(now.date).some(
    (r) => r.prosecutor_id === prosecutor && (r.status === 'in_room' || r.status === 'in_session' || r.status === 'escorting' || r.status === 'scheduled') && r.start_min - r.escort_before_min - 10 <= now.minute && r.end_min > now.minute + 5
  );
  if (live) return null;
  const site = service.store.site(now.date);
  const start = slotUp(now.minute + 1, site.slotMinutes);
  const end = start + 25;
  const w = windowsOn(site, now.date).find((x) => x.start <= start - 3 && x.end >= end);
  if (!w) return null;
  const onDuty = site.dutyRoster.some((d) => d.lawyerId === dutyLawyer && d.start <= start && d.end >= end);
  if (!onDuty) service.store.addDutyShift(`demo-duty-live-${now.date}-${start}`, { lawyerId: dutyLawyer, date: now.date, start, end }, actor);
  const out = service.create({
    requestId: `demo-live-${now.date}-${start}`, caseNumber: `某检刑诉〔2026〕${start}号`, detaineeId: `在押-L${start}`, procuratorateId: '本院', priorityClass: 'district',
    prosecutorId: prosecutor, sessionKind: 'plea_hearing', date: now.date, requestedStart: start, durationMin: 25, lawyerRole: 'duty', lawyerId: dutyLawyer,
  }, actor);
  if (!out.ok) return null;
  await service.advance(out.booking.id, 'in_room', actor);
  return out.booking.id;
}

export async function seedDemoDay(service: ScheduleService, cast: DemoCast, options: { sessions?: number; actor?: string } = {}): Promise<SeededDay | null> {
  const count = service.store.db.prepare('SELECT COUNT(*) AS n FROM bookings').get() as { n: number };
  if (count.n > 0) return null;
  const actor = options.actor ?? 'demo';
  const sessions = options.sessions ?? 60;
  const now = service.clock.local();
  const slot = service.store.site(now.date).slotMinutes;
  const prosecutor = cast.prosecutors[0];
  const dutyLawyer = cast.dutyLawyers[0];
  const defenceLawyer = cast.defenceLawyers[0];
  if (!prosecutor || !dutyLawyer || !defenceLawyer) throw new Error('the demo cast needs a prosecutor, a duty lawyer and a defence lawyer');

  // Today's remaining working time, or else the next working day's.
  const todayLeft = windowsOn(service.store.site(now.date), now.date).filter((w) => w.end - Math.max(w.start, now.minute) >= 30);
  const date = todayLeft.length ? now.date : nextWorkingDay(service, nextDate(now.date));
  if (!date) return null;
  const from: Minute = date === now.date ? slotUp(now.minute + 1, slot) : 0;
  const windows = windowsOn(service.store.site(date), date)
    .map((w) => ({ start: Math.max(w.start, from), end: w.end }))
    .filter((w) => w.end - w.start >= 30);
  // The roster for the day's sample: the other demo duty lawyers and colleagues without an account
  // here. The first demo duty lawyer is kept for the live bookings (on duty only for those), so a
  // live booking for the newcomer can be placed at any later start too.
  const roster = [...cast.dutyLawyers.slice(1), '值班律师3', '值班律师4'];
  for (const [i, lawyerId] of roster.entries()) {
    for (const w of windows) service.store.addDutyShift(`demo-duty-${i + 2}-${date}-${w.start}`, { lawyerId, date, start: w.start, end: w.end }, actor);
  }
  const plea = service.store.site(date).rooms.find((r) => r.kind === 'plea' && r.active)?.id;
  const base = { procuratorateId: '本院', priorityClass: 'district', sessionKind: 'plea_hearing', date } as const;

  // The live booking: starts at the next slot, so its join window (from its escort time less
  // joinOpensMinutesBefore) is already open.
  let live: string | null = null;
  const first = windows[0];
  if (date === now.date && first && first.start === from && plea && first.end - from >= 25) {
    service.store.addDutyShift(`demo-duty-live-${date}-${from}`, { lawyerId: dutyLawyer, date, start: from, end: from + 25 }, actor);
    const out = service.create({ ...base, requestId: 'demo-live', caseNumber: '某检刑诉〔2026〕1号', detaineeId: '在押-001', prosecutorId: prosecutor, lawyerRole: 'duty', lawyerId: dutyLawyer, requestedStart: from, durationMin: 25, roomId: plea }, actor);
    if (out.ok) {
      live = out.booking.id;
      // The detainee is in the room: the session opens and the room agent joins it.
      await service.advance(live, 'in_room', actor);
    }
  }
  // The same prosecutor's later booking, with the defence lawyer.
  let later: string | null = null;
  const laterWindow = windows.find((w) => w.end - Math.max(w.start, from + 60) >= 20);
  if (laterWindow) {
    const start = Math.max(laterWindow.start, from + 60);
    const out = service.create({ ...base, requestId: 'demo-later', caseNumber: '某检刑诉〔2026〕2号', detaineeId: '在押-002', prosecutorId: prosecutor, lawyerRole: 'defence', lawyerId: defenceLawyer, requestedStart: start, durationMin: 20 }, actor);
    if (out.ok) later = out.booking.id;
  }

  // The rest of the day for the staff board: other prosecutors, duty lawyers from the roster.
  const kinds = ['plea_hearing', 'plea_hearing', 'plea_hearing', 'arraignment', 'bail_hearing'] as const;
  const requests: BookingRequest[] = [];
  const usable = windows.filter((w) => w.end - w.start >= 45);
  for (let i = 0; i < sessions && usable.length; i++) {
    const w = usable[i % usable.length]!;
    const span = Math.min(w.end - w.start - 30, 240);
    const priorityClass = i % 10 === 0 ? 'higher' : i % 10 === 5 ? 'sibling' : 'district';
    const q = {
      requestId: `demo-${i}`,
      caseNumber: `某检刑诉〔2026〕${100 + i}号`,
      detaineeId: `在押-${String(i + 3).padStart(3, '0')}`,
      procuratorateId: priorityClass === 'higher' ? '市人民检察院' : priorityClass === 'sibling' ? '邻区人民检察院' : '本院',
      priorityClass,
      // The demo's other prosecutors, and colleagues without an account here.
      prosecutorId: i % 4 === 0 ? cast.prosecutors[1 + (i % Math.max(1, cast.prosecutors.length - 1))] ?? `检察官${(i % 12) + 1}` : `检察官${(i % 12) + 1}`,
      sessionKind: kinds[i % kinds.length]!,
      date,
      requestedStart: w.start + 15 + ((i * 15) % Math.max(span, 1)),
      durationMin: 10 + (i % 5),
    } as const;
    requests.push(i % 3 === 0 ? { ...q, lawyerRole: 'defence', lawyerId: `辩护律师${(i % 9) + 1}` } : { ...q, lawyerRole: 'duty' });
  }
  const planned = requests.length ? service.plan(date, requests, actor).placed.length : 0;
  return { date, placed: planned + (live ? 1 : 0) + (later ? 1 : 0), live, later };
}
