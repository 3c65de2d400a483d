// A working day that fits a booking at any hour, for tests and benchmarks that
// run a live session now: every day of the week one window from 00:00 to 24:00,
// and the site's clock set to a fixed time of today (its seconds running on).
import { SiteClock } from '../../server/schedule/site-clock.js';

const allDay = ['00:00-24:00'];

/** Weekly windows (config schedule.weeklyWindows) open all day, every day. */
export function allDayWindows(): Record<string, string[]> {
  return { 1: allDay, 2: allDay, 3: allDay, 4: allDay, 5: allDay, 6: allDay, 7: allDay };
}

/** The site's clock at `minuteOfDay` of today in `timeZone`, running from now. */
export function siteClockAt(timeZone: string, minuteOfDay: number): SiteClock {
  const today = new SiteClock(timeZone).local().date;
  const offsetMs = new SiteClock(timeZone).toEpochMs(today, minuteOfDay) - Date.now();
  return new SiteClock(timeZone, () => Date.now() + offsetMs);
}
