// Checks of outside input that a JSON schema cannot express: a real calendar
// date inside the configured horizon. Each refusal names its field.
import { DomainError } from '../errors.js';
import type { IsoDate } from './model.js';
import { assertIsoDate } from './windows.js';
import type { SiteClock } from './site-clock.js';

const DAY_MS = 86_400_000;

function dayNumber(date: IsoDate): number {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return Date.UTC(y, m - 1, d) / DAY_MS;
}

/** `date` plus `days` calendar days. */
export function addDays(date: IsoDate, days: number): IsoDate {
  return new Date((dayNumber(date) + days) * DAY_MS).toISOString().slice(0, 10);
}

export class Horizon {
  constructor(private readonly clock: SiteClock, private readonly daysBack: number, private readonly daysAhead: number) {}

  /** A real calendar date (for reading any day). */
  realDate(field: string, date: string): IsoDate {
    try {
      assertIsoDate(date);
    } catch (err) {
      throw new DomainError(400, 'bad_request', `${field}: ${(err as Error).message}`);
    }
    return date;
  }

  /** A real calendar date from `daysBack` days before the site's today to `daysAhead` after it (for writing). */
  writable(field: string, date: string): IsoDate {
    this.realDate(field, date);
    const today = this.clock.local().date;
    const from = addDays(today, -this.daysBack);
    const to = addDays(today, this.daysAhead);
    if (date < from || date > to) throw new DomainError(400, 'bad_request', `${field}: ${date} is outside the schedule's horizon ${from} … ${to}`);
    return date;
  }
}
