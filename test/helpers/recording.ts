// Helpers for recording tests: ffprobe of stored segments, bookings of today.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { RunningServer } from '../../server/app.js';
import { recordingDir, type Segment } from '../../recordings/recording-store.js';
import { SiteClock } from '../../server/schedule/site-clock.js';
import { loadConfig } from '../../server/config.js';
import { bookingRequest, call } from './http.js';
import { staffOf } from './staff.js';

export interface Probe {
  duration: number;
  streams: Array<{ codec_type: string; codec_name: string }>;
}

export function ffprobe(file: string): Probe {
  const out = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_type,codec_name', '-of', 'json', file], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`ffprobe ${file}: ${out.stderr}`);
  const j = JSON.parse(out.stdout) as { format?: { duration?: string }; streams?: Probe['streams'] };
  return { duration: Number(j.format?.duration ?? NaN), streams: j.streams ?? [] };
}

export function segmentFile(server: Pick<RunningServer, 'config'>, s: Segment): string {
  return path.join(recordingDir(server.config.dataDir, s.bookingId), ...s.path.split('/'));
}

/** Total ffprobe duration of a track's segments. */
export function trackSeconds(server: Pick<RunningServer, 'config'>, segments: Segment[], track: string): number {
  return segments.filter((s) => s.track === track).reduce((n, s) => n + ffprobe(segmentFile(server, s)).duration, 0);
}

const allDay = ['00:00-24:00'];
const base = loadConfig({ env: {} });
/** Working windows all day, every day, so that "today" always has room. */
export const allDayOverrides = { schedule: { ...base.schedule, weeklyWindows: { 1: allDay, 2: allDay, 3: allDay, 4: allDay, 5: allDay, 6: allDay, 7: allDay } } };
const today = new SiteClock(base.site.timeZone).local().date;
const offsetMs = new SiteClock(base.site.timeZone).toEpochMs(today, 10 * 60) - Date.now();
/** The site's clock at 10:00 of today, running on from there (tests run the same at any hour). */
export const tenOClock = new SiteClock(base.site.timeZone, () => Date.now() + offsetMs);

let n = 0;
/** Books `roomId` 10 minutes from the site's now and puts the booking in its room (its session opens). */
export async function bookInRoom(server: RunningServer, roomId: string): Promise<{ id: string; status: number; body: Record<string, unknown> }> {
  const key = await staffOf(server);
  const now = tenOClock.local();
  const start = Math.ceil((now.minute + 10) / 5) * 5 + 20 * n;
  n++;
  const created = await call(server.url, 'POST', '/api/bookings', bookingRequest({ date: now.date, requestedStart: start, roomId, detaineeId: `D-${roomId}-${n}`, prosecutorId: `pros-${roomId}-${n}`, lawyerId: `law-${roomId}-${n}` }), key);
  if (created.status !== 201) throw new Error(`booking not created: ${JSON.stringify(created.body)}`);
  const id = String(created.body['id']);
  const res = await call(server.url, 'POST', `/api/bookings/${id}/status`, { status: 'in_room' }, key);
  return { id, status: res.status, body: res.body };
}

export async function setStatus(server: RunningServer, id: string, status: string): Promise<number> {
  return (await call(server.url, 'POST', `/api/bookings/${id}/status`, { status }, await staffOf(server))).status;
}
