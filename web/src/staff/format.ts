// Small pure helpers of the staff board: minutes since local midnight <-> HH:MM,
// ISO dates, and the time axis that shows only the working windows.

export const MINUTES_PER_DAY = 1440;

/** 555 → '09:15'. */
export function hhmm(minute: number): string {
  const m = Math.max(0, Math.min(MINUTES_PER_DAY, Math.round(minute)));
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

/** '09:15' or '9:15' → 555; null when it is not a time of day. */
export function parseHhmm(text: string): number | null {
  const match = /^\s*(\d{1,2})[:：.](\d{2})\s*$/.exec(text);
  if (!match) return null;
  const h = Number(match[1]);
  const m = Number(match[2]);
  if (h > 24 || m > 59 || (h === 24 && m > 0)) return null;
  return h * 60 + m;
}

export function isIsoDate(text: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text;
}

/** The browser's local date as YYYY-MM-DD (used only until the server says what "today" is). */
export function localIsoDate(d = new Date()): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** Times on a `step`-minute grid from `from` to `to` inclusive, as HH:MM. */
export function timeGrid(from: number, to: number, step = 5): string[] {
  const out: string[] = [];
  for (let m = Math.ceil(from / step) * step; m <= to; m += step) out.push(hhmm(m));
  return out;
}

export interface Window {
  start: number;
  end: number;
}

/** One shown stretch of the axis (a working window) and where it sits, in percent. */
export interface AxisSegment extends Window {
  left: number;
  width: number;
}

export interface AxisTick {
  minute: number;
  left: number;
  major: boolean;
}

/**
 * A time axis that shows the working windows side by side and squeezes each
 * gap between them into a fixed narrow band, so 09:00–11:00 and 14:00–16:00
 * fill the width. `x(minute)` is continuous and monotone (minutes in a gap
 * spread across its band; minutes before the first or after the last window
 * clamp to the ends), so any booking gets a place even if it lies outside.
 */
export class TimeAxis {
  readonly segments: AxisSegment[];
  readonly ticks: AxisTick[];
  private readonly stretches: Array<{ from: number; to: number; v0: number; v1: number }> = [];
  private readonly total: number;

  constructor(windows: readonly Window[], gapShare = 0.035) {
    const ws = [...windows].filter((w) => w.end > w.start).sort((a, b) => a.start - b.start);
    const shown = ws.length > 0 ? ws : [{ start: 8 * 60, end: 18 * 60 }];
    const shownMinutes = shown.reduce((n, w) => n + (w.end - w.start), 0);
    const gap = Math.max(4, shownMinutes * gapShare);
    let v = 0;
    shown.forEach((w, i) => {
      if (i > 0) {
        const prev = shown[i - 1] as Window;
        this.stretches.push({ from: prev.end, to: w.start, v0: v, v1: v + gap });
        v += gap;
      }
      this.stretches.push({ from: w.start, to: w.end, v0: v, v1: v + (w.end - w.start) });
      v += w.end - w.start;
    });
    this.total = v;
    this.segments = shown.map((w) => {
      const left = this.x(w.start);
      return { ...w, left, width: this.x(w.end) - left };
    });
    const ticks: AxisTick[] = [];
    for (const w of shown) {
      const step = w.end - w.start > 300 ? 60 : 30;
      for (let m = Math.ceil(w.start / step) * step; m <= w.end; m += step) {
        ticks.push({ minute: m, left: this.x(m), major: m % 60 === 0 });
      }
    }
    this.ticks = ticks;
  }

  /** Where a minute sits, in percent of the width. */
  x(minute: number): number {
    const first = this.stretches[0];
    const last = this.stretches[this.stretches.length - 1];
    if (!first || !last || this.total <= 0) return 0;
    if (minute <= first.from) return 0;
    if (minute >= last.to) return 100;
    for (const s of this.stretches) {
      if (minute <= s.to) {
        const v = s.to === s.from ? s.v0 : s.v0 + ((minute - s.from) / (s.to - s.from)) * (s.v1 - s.v0);
        return (v / this.total) * 100;
      }
    }
    return 100;
  }

  /** The minute at a position (percent), the inverse of x() inside the windows; null in a gap. */
  minuteAt(percent: number): number | null {
    const p = Math.max(0, Math.min(100, percent));
    for (const s of this.segments) {
      if (p >= s.left && p <= s.left + s.width) return s.start + ((p - s.left) / (s.width || 1)) * (s.end - s.start);
    }
    return null;
  }

  /** Is the minute inside a shown window? */
  contains(minute: number): boolean {
    return this.segments.some((s) => minute >= s.start && minute <= s.end);
  }
}
