// Keeps a loop of refusals (or joins and leaves) from flooding the audit trail:
// per key (remote address, party, ...) the first `burst` entries of each window
// are written; the rest are counted and written as one `audit.suppressed` entry
// when that key's next window opens (or at `flush`). Nothing is silently lost.
import type { AuditInput, AuditTrail } from './audit-trail.js';

export interface ThrottleOptions {
  burst: number;
  windowMs: number;
  /** Keys remembered at most (oldest dropped, with their counts written first). */
  maxKeys?: number;
  now?: () => number;
}

interface Window {
  startedAt: number;
  written: number;
  suppressed: number;
  lastAction: string;
  lastSubject: string;
}

export class AuditThrottle {
  private readonly windows = new Map<string, Window>();
  private readonly now: () => number;

  constructor(private readonly audit: AuditTrail, private readonly options: ThrottleOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Appends `input` unless `key` is over its burst (then counts it). Returns whether it was written. Throws as append does. */
  append(key: string, input: AuditInput): boolean {
    const now = this.now();
    let w = this.windows.get(key);
    if (w && now - w.startedAt >= this.options.windowMs) {
      this.flushOne(key, w);
      w = undefined;
    }
    if (!w) {
      if (this.windows.size >= (this.options.maxKeys ?? 10_000)) {
        const oldest = this.windows.keys().next().value as string;
        this.flushOne(oldest, this.windows.get(oldest)!);
      }
      w = { startedAt: now, written: 0, suppressed: 0, lastAction: input.action, lastSubject: input.subject };
      this.windows.set(key, w);
    }
    if (w.written < this.options.burst) {
      this.audit.append(input);
      w.written++;
      return true;
    }
    w.suppressed++;
    w.lastAction = input.action;
    w.lastSubject = input.subject;
    return false;
  }

  private flushOne(key: string, w: Window): void {
    this.windows.delete(key);
    if (w.suppressed === 0) return;
    this.audit.append({
      actor: 'system',
      action: 'audit.suppressed',
      subject: key,
      detail: { count: w.suppressed, lastAction: w.lastAction, lastSubject: w.lastSubject, since: new Date(w.startedAt).toISOString(), windowMs: this.options.windowMs },
    });
  }

  /** Writes every pending count (at shutdown, or periodically). */
  flush(): void {
    for (const [key, w] of [...this.windows]) this.flushOne(key, w);
  }
}
