// Watches the free space of the disk the recordings go to (fs.statfs). Below the
// reserve, new sessions are refused (running recordings have the reserve to
// finish in); below the stop floor, running recordings are ended cleanly
// rather than cut short by a full disk.
import { statfsSync } from 'node:fs';
import { TypedEmitter } from '../server/events.js';

export type DiskLevel = 'ok' | 'low' | 'critical';

export interface DiskState {
  level: DiskLevel;
  freeBytes: number;
  reserveBytes: number;
  stopBytes: number;
  at: string;
}

export type DiskWatchEvents = { changed: [state: DiskState, previous: DiskLevel] };

const MiB = 1024 * 1024;

export function formatBytes(n: number): string {
  return n >= 1024 * MiB ? `${(n / 1024 / MiB).toFixed(1)} GiB` : `${Math.round(n / MiB)} MiB`;
}

export class DiskWatch extends TypedEmitter<DiskWatchEvents> {
  private timer: NodeJS.Timeout | null = null;
  private current: DiskState;

  constructor(private readonly dir: string, reserveMiB: number, stopMiB: number, private readonly intervalMs: number) {
    super();
    this.current = { level: 'ok', freeBytes: Number.POSITIVE_INFINITY, reserveBytes: reserveMiB * MiB, stopBytes: Math.min(stopMiB, reserveMiB) * MiB, at: new Date().toISOString() };
    this.check();
  }

  get state(): DiskState {
    return this.current;
  }

  /** Measures now; emits `changed` when the level changed. */
  check(): DiskState {
    let free: number;
    try {
      const s = statfsSync(this.dir);
      free = Number(s.bavail) * Number(s.bsize);
    } catch {
      // Not measurable (the directory went away): treat as full, never as free.
      free = 0;
    }
    const level: DiskLevel = free < this.current.stopBytes ? 'critical' : free < this.current.reserveBytes ? 'low' : 'ok';
    const previous = this.current.level;
    this.current = { ...this.current, level, freeBytes: free, at: new Date().toISOString() };
    if (level !== previous) this.emit('changed', this.current, previous);
    return this.current;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
