// Uploads the room agent's closed evidence-video segments to the server, as
// they close. Each closed segment is hashed (SHA-256) here on the room PC and
// described by a sidecar `<segment>.json`; the file stays on disk until the
// server answers that it stored it (it re-hashes and refuses a mismatch). A
// network drop or a server restart only delays: the upload is retried with
// backoff, and an agent that restarts finds the sidecars left on disk and
// uploads what is left. A segment the server refuses for good (its booking's
// window and grace are over, its evidence is sealed, not this room's booking)
// is set aside under <dir>/.refused/<booking>/, kept, never deleted, and no
// longer holds up the segments behind it.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';

/** The sidecar of a closed segment: what the upload says about it. */
export interface SegmentRecord {
  bookingId: string;
  roomId: string;
  /** File name (also its name on the server). */
  name: string;
  startedAt: string;
  endedAt: string;
  bytes: number;
  sha256: string;
}

export interface UploaderOptions {
  serverUrl: string;
  roomId: string;
  credential: string;
  /** The agent's evidence directory: one subdirectory per booking. */
  dir: string;
  log?: (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;
  /** Retry delays grow from this to maxDelayMs. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** Hashes a closed segment and writes its sidecar (atomically); returns the record. */
export async function sealSegment(file: string, meta: Omit<SegmentRecord, 'name' | 'bytes' | 'sha256'>): Promise<SegmentRecord> {
  const record: SegmentRecord = { ...meta, name: path.basename(file), bytes: statSync(file).size, sha256: await sha256File(file) };
  const tmp = `${file}.json.tmp`;
  writeFileSync(tmp, JSON.stringify(record));
  renameSync(tmp, `${file}.json`);
  return record;
}

/** The server's refusals that no retry changes (recordings/evidence-intake.ts). */
const PERMANENT = new Set(['after_window', 'sealed', 'not_this_room', 'no_booking']);

function refusalOf(body: string): string {
  try {
    const j = JSON.parse(body) as { error?: unknown };
    return typeof j.error === 'string' ? j.error : '';
  } catch {
    return '';
  }
}

export class SegmentUploader {
  private readonly pending = new Map<string, SegmentRecord>(); // by file path
  private running = false;
  private stopped = false;
  private wake: (() => void) | null = null;
  private delayMs: number;
  uploaded = 0;
  failures = 0;
  refused = 0;

  constructor(private readonly options: UploaderOptions) {
    this.delayMs = options.minDelayMs ?? 1000;
  }

  /** Finds sealed segments left on disk (a previous run, an unreachable server) and queues them. */
  scan(): number {
    let n = 0;
    if (!existsSync(this.options.dir)) return 0;
    for (const booking of readdirSync(this.options.dir)) {
      const bdir = path.join(this.options.dir, booking);
      if (!statSync(bdir).isDirectory()) continue;
      for (const f of readdirSync(bdir)) {
        if (!f.endsWith('.ts.json')) continue;
        const file = path.join(bdir, f.slice(0, -'.json'.length));
        try {
          const record = JSON.parse(readFileSync(path.join(bdir, f), 'utf8')) as SegmentRecord;
          if (existsSync(file) && !this.pending.has(file)) {
            this.pending.set(file, record);
            n++;
          }
        } catch (err) {
          this.options.log?.('error', `unreadable segment sidecar ${f}: ${(err as Error).message}`);
        }
      }
    }
    if (n) this.kick();
    return n;
  }

  enqueue(file: string, record: SegmentRecord): void {
    this.pending.set(file, record);
    this.kick();
  }

  get queued(): number {
    return this.pending.size;
  }

  start(): void {
    this.stopped = false;
    this.scan();
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private kick(): void {
    if (this.wake) {
      this.delayMs = this.options.minDelayMs ?? 1000;
      this.wake();
    }
    if (!this.running && !this.stopped) void this.loop();
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (!this.stopped && this.pending.size) {
        const [file, record] = [...this.pending.entries()].sort((a, b) => a[0].localeCompare(b[0]))[0]!;
        const outcome = await this.uploadOne(file, record);
        if (outcome === 'refused') {
          this.pending.delete(file);
          this.refused++;
          this.setAside(file, record);
          continue;
        }
        if (outcome === 'stored') {
          this.pending.delete(file);
          this.uploaded++;
          this.delayMs = this.options.minDelayMs ?? 1000;
          // Confirmed: the server holds it now.
          for (const f of [file, `${file}.json`]) {
            try {
              unlinkSync(f);
            } catch {
              /* already gone */
            }
          }
          continue;
        }
        this.failures++;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.delayMs);
          timer.unref();
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = null;
        this.delayMs = Math.min(this.options.maxDelayMs ?? 15_000, this.delayMs * 2);
      }
    } finally {
      this.running = false;
    }
  }

  /** Keeps a segment the server will never take, out of the upload queue. */
  private setAside(file: string, record: SegmentRecord): void {
    const aside = path.join(this.options.dir, '.refused', path.basename(path.dirname(file)));
    try {
      mkdirSync(aside, { recursive: true });
      renameSync(`${file}.json`, path.join(aside, `${record.name}.json`));
      renameSync(file, path.join(aside, record.name));
      this.options.log?.('error', `evidence segment ${record.name} set aside in ${aside}: the server will not take it (kept on this PC)`, { bookingId: record.bookingId });
    } catch (err) {
      this.options.log?.('error', `evidence segment ${record.name} could not be set aside: ${(err as Error).message}`);
    }
  }

  /** One attempt: 'stored' when the server confirmed it holds the segment (now or before), 'refused' when it never will. */
  private uploadOne(file: string, record: SegmentRecord): Promise<'stored' | 'retry' | 'refused'> {
    const o = this.options;
    const url = new URL(`/api/rooms/${encodeURIComponent(o.roomId)}/evidence/${encodeURIComponent(record.bookingId)}/segments/${encodeURIComponent(record.name)}`, o.serverUrl);
    url.searchParams.set('startedAt', record.startedAt);
    url.searchParams.set('endedAt', record.endedAt);
    url.searchParams.set('sha256', record.sha256);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        o.log?.('error', `evidence segment ${record.name} vanished before upload`);
        this.pending.delete(file);
        return resolve('retry');
      }
      const req = send(url, {
        method: 'PUT',
        headers: { 'content-type': 'video/mp2t', 'content-length': size, authorization: `Agent ${o.roomId}:${o.credential}` },
        timeout: 60_000,
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body = (body + d.toString()).slice(0, 2000)));
        res.on('end', () => {
          const code = res.statusCode ?? 0;
          if (code === 200 || code === 201) {
            o.log?.('info', `evidence segment ${record.name} stored on the server`, { bookingId: record.bookingId });
            return resolve('stored');
          }
          o.log?.('warn', `evidence segment ${record.name} refused (${code}): ${body}`, { bookingId: record.bookingId });
          resolve(PERMANENT.has(refusalOf(body)) ? 'refused' : 'retry');
        });
        res.on('error', () => resolve('retry'));
      });
      req.on('timeout', () => req.destroy(new Error('upload timed out')));
      req.on('error', (err) => {
        o.log?.('warn', `evidence segment ${record.name} not uploaded: ${err.message}`);
        resolve('retry');
      });
      createReadStream(file).on('error', (err) => req.destroy(err)).pipe(req);
    });
  }
}
