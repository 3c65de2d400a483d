// A realistic day on the staff board for the demo: on first start (no bookings
// at all), today's schedule (or the next working day's) is planned from a set
// of sample requests, with a duty-lawyer roster. Never in production config.
import type { ScheduleService } from './schedule/schedule-service.js';
import type { BookingRequest, IsoDate } from './schedule/model.js';
import { windowsOn } from './schedule/windows.js';

function nextWorkingDay(service: ScheduleService): IsoDate | null {
  let { date } = service.clock.local();
  for (let i = 0; i < 14; i++) {
    if (windowsOn(service.store.site(date), date).length > 0) return date;
    const d = new Date(`${date}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + 1);
    date = d.toISOString().slice(0, 10);
  }
  return null;
}

export function seedDemoDay(service: ScheduleService, sessions = 70): { date: IsoDate; placed: number } | null {
  const count = service.store.db.prepare('SELECT COUNT(*) AS n FROM bookings').get() as { n: number };
  if (count.n > 0) return null;
  const date = nextWorkingDay(service);
  if (!date) return null;
  const windows = windowsOn(service.store.site(date), date);
  for (let i = 1; i <= 4; i++) {
    for (const w of windows) service.store.addDutyShift(`demo-duty-${i}-${date}-${w.start}`, { lawyerId: `值班律师${i}`, date, start: w.start, end: w.end }, 'demo');
  }
  const kinds = ['plea_hearing', 'plea_hearing', 'plea_hearing', 'arraignment', 'bail_hearing'] as const;
  const requests: BookingRequest[] = [];
  for (let i = 0; i < sessions; i++) {
    const w = windows[i % windows.length]!;
    const priorityClass = i % 10 === 0 ? 'higher' : i % 10 === 5 ? 'sibling' : 'district';
    const base = {
      requestId: `demo-${i}`,
      caseNumber: `某检刑诉〔2026〕${100 + i}号`,
      detaineeId: `在押-${String(i + 1).padStart(3, '0')}`,
      procuratorateId: priorityClass === 'higher' ? '市人民检察院' : priorityClass === 'sibling' ? '邻区人民检察院' : '本院',
      priorityClass,
      prosecutorId: `检察官${(i % 12) + 1}`,
      sessionKind: kinds[i % kinds.length]!,
      date,
      requestedStart: w.start + 3 + ((i * 15) % (w.end - w.start - 15)),
      durationMin: 10 + (i % 5),
    } as const;
    requests.push(i % 3 === 0 ? { ...base, lawyerRole: 'defence', lawyerId: `辩护律师${(i % 9) + 1}` } : { ...base, lawyerRole: 'duty' });
  }
  const out = service.plan(date, requests, 'demo');
  return { date, placed: out.placed.length };
}
