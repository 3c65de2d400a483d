/**
 * Time arithmetic of the schedule: dates, weekdays, "HH:MM" minutes, working windows of a date, and
 * `MinuteSet`, the per-resource bitset of busy minutes of one day that the scheduler checks against.
 */
import type { IsoDate, IsoWeekday, Minute, Site, TimeRange } from './model.js';

export const MINUTES_PER_DAY = 1440;

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Throws RangeError unless `date` is a real calendar date written 'YYYY-MM-DD'. */
export function assertIsoDate(date: string): asserts date is IsoDate {
  const m = DATE_RE.exec(date);
  if (m === null) throw new RangeError(`not a date 'YYYY-MM-DD': ${date}`);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d) {
    throw new RangeError(`no such date: ${date}`);
  }
}

/** Calendar weekday of a date (1 = Monday … 7 = Sunday), whatever the process time zone. */
export function isoWeekday(date: IsoDate): IsoWeekday {
  assertIsoDate(date);
  const day = new Date(`${date}T00:00:00Z`).getUTCDay();
  return (day === 0 ? 7 : day) as IsoWeekday;
}

/** '09:30' → 570. */
export function hhmm(text: string): Minute {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (m === null) throw new RangeError(`not a time 'HH:MM': ${text}`);
  const minute = Number(m[1]) * 60 + Number(m[2]);
  if (Number(m[2]) > 59 || minute > MINUTES_PER_DAY) throw new RangeError(`no such time: ${text}`);
  return minute;
}

/** 570 → '09:30'. */
export function formatMinute(minute: Minute): string {
  const h = Math.floor(minute / 60);
  const m = minute % 60;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
}

/** `range('09:00', '11:00')` → `{ start: 540, end: 660 }`. */
export function range(from: string, to: string): TimeRange {
  return { start: hhmm(from), end: hhmm(to) };
}

/** Working windows in force on `date`, sorted by start. */
export function windowsOn(site: Site, date: IsoDate): readonly TimeRange[] {
  const list = site.dateWindows?.[date] ?? site.weeklyWindows[isoWeekday(date)] ?? [];
  return [...list].sort((a, b) => a.start - b.start);
}

/** The window that contains all of `[from, to)`, if any. */
export function windowContaining(windows: readonly TimeRange[], from: Minute, to: Minute): TimeRange | undefined {
  for (const w of windows) if (from >= w.start && to <= w.end) return w;
  return undefined;
}

export function overlaps(a: TimeRange, b: TimeRange): boolean {
  return a.start < b.end && b.start < a.end;
}

/** Mask of `n` bits starting at bit `off` of a 32-bit word (n ≥ 1, off + n ≤ 32). */
function mask(off: number, n: number): number {
  return n === 32 ? 0xffffffff : (((1 << n) - 1) << off) >>> 0;
}

/**
 * The busy minutes of one resource on one day, one bit per minute (45 words). Checking, adding or
 * removing an interval costs one or two word operations for session-sized intervals.
 */
export class MinuteSet {
  private readonly words = new Uint32Array(MINUTES_PER_DAY / 32);

  /** True if no minute of `[from, to)` is busy. */
  isFree(from: Minute, to: Minute): boolean {
    for (let i = from; i < to; ) {
      const off = i & 31;
      const n = Math.min(32 - off, to - i);
      if (((this.words[i >>> 5] ?? 0) & mask(off, n)) !== 0) return false;
      i += n;
    }
    return true;
  }

  add(from: Minute, to: Minute): void {
    for (let i = from; i < to; ) {
      const off = i & 31;
      const n = Math.min(32 - off, to - i);
      const w = i >>> 5;
      this.words[w] = (this.words[w] ?? 0) | mask(off, n);
      i += n;
    }
  }

  remove(from: Minute, to: Minute): void {
    for (let i = from; i < to; ) {
      const off = i & 31;
      const n = Math.min(32 - off, to - i);
      const w = i >>> 5;
      this.words[w] = (this.words[w] ?? 0) & ~mask(off, n);
      i += n;
    }
  }

  /** First busy minute in `[from, limit)`, or `limit` if there is none. */
  nextBusy(from: Minute, limit: Minute): Minute {
    for (let i = from; i < limit; ) {
      const w = i >>> 5;
      const bits = (this.words[w] ?? 0) >>> (i & 31);
      if (bits !== 0) return Math.min(limit, i + 31 - Math.clz32(bits & -bits));
      i = (w + 1) << 5;
    }
    return limit;
  }

  /** First free minute in `[from, limit)`, or `limit` if there is none. */
  nextFree(from: Minute, limit: Minute): Minute {
    for (let i = from; i < limit; ) {
      const w = i >>> 5;
      const bits = ~(this.words[w] ?? 0) >>> (i & 31);
      if (bits !== 0) return Math.min(limit, i + 31 - Math.clz32(bits & -bits));
      i = (w + 1) << 5;
    }
    return limit;
  }

  /** End of the last busy minute in `[floor, to)` (that minute + 1), or `floor` if there is none. */
  busyUntilBefore(to: Minute, floor: Minute): Minute {
    for (let i = to; i > floor; ) {
      const w = (i - 1) >>> 5;
      const top = (i - 1) & 31;
      const bits = ((this.words[w] ?? 0) & mask(0, top + 1)) >>> 0;
      if (bits !== 0) return Math.max(floor, (w << 5) + 31 - Math.clz32(bits) + 1);
      i = w << 5;
    }
    return floor;
  }
}
