// The detention centre's wall clock: schedule times are a calendar date and
// minutes since local midnight in the site's time zone (config site.timeZone);
// join links and overrun checks need epoch milliseconds.
import type { IsoDate, Minute } from './model.js';

function offsetMinutes(timeZone: string, atMs: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(atMs));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((asUtc - Math.floor(atMs / 1000) * 1000) / 60_000);
}

export class SiteClock {
  constructor(readonly timeZone: string, private readonly now: () => number = Date.now) {}

  /** Epoch milliseconds of `minute` on `date`, site time. */
  toEpochMs(date: IsoDate, minute: Minute): number {
    const [y, m, d] = date.split('-').map(Number) as [number, number, number];
    const naive = Date.UTC(y, m - 1, d) + minute * 60_000;
    let guess = naive - offsetMinutes(this.timeZone, naive) * 60_000;
    guess = naive - offsetMinutes(this.timeZone, guess) * 60_000;
    return guess;
  }

  /** The site's date and minute at `atMs` (default: now). */
  local(atMs: number = this.now()): { date: IsoDate; minute: Minute } {
    const shifted = atMs + offsetMinutes(this.timeZone, atMs) * 60_000;
    const d = new Date(shifted);
    const date = `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-${String(d.getUTCDate()).padStart(2, '0')}`;
    return { date, minute: d.getUTCHours() * 60 + d.getUTCMinutes() };
  }

  nowMs(): number {
    return this.now();
  }
}
