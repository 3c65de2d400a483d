/**
 * Benchmark of the schedule core: plans a synthetic, repeatable day on the default site and prints
 * one JSON object. Usage: npx tsx scripts/bench-schedule.ts [--json] [--requests N] [--seed S] [--runs R]
 *
 * The day: N requests (default 400) for one Monday, from this district (80 %), higher-level (8 %) and
 * sibling (12 %) procuratorates; plea hearings 55 %, arraignments 35 %, bail hearings 10 %; durations
 * 8/10/12/14/18 min (10/25/35/20/10 %, mean 12.1); about one detainee in four has two or more requests; 30 prosecutors;
 * 12 duty lawyers on each half-day shift (half the requests leave the lawyer to the scheduler, a fifth
 * name a duty lawyer, the rest a defence lawyer of 40); requested starts spread over both working
 * windows, crowded at their openings; one plea workroom reserved for higher-level requests 09:00–10:00
 * and one interrogation room for sibling requests 14:00–15:00.
 *
 * `bestTwoHourBlock` is a sliding window (any 120 minutes on a 5-minute step); `bestAlignedBlock` is
 * the best of the configured working windows themselves, the blocks the design figure (80 sessions
 * per two-hour block) is about, and `sessionsPerWindow` gives each window's count.
 *
 * `planMs` is the median wall time of `planDay` over `runs` timed runs after 5 warm-up runs.
 *
 * Then the API under load (scripts/lib/schedule-api-load.ts): a real server process on a real
 * SQLite file and `--clients` (default 8) concurrent staff clients sending `--api-requests` (default
 * 1800) mixed operations over two days. `apiOpsPerSecond` is requests answered per second of wall
 * time; `p95Ms` is the server-side 95th percentile of Fastify's responseTime. `--api-requests 0`
 * skips it.
 */
import { performance } from 'node:perf_hooks';
import { defaultSite, type BookingRequest, type DutyShift, type PriorityClass, type SessionKind, type Site } from '../server/schedule/model.js';
import { planDay, roomSlot } from '../server/schedule/scheduler.js';
import { windowsOn } from '../server/schedule/windows.js';
import { repoRoot } from '../server/config.js';
import { scheduleApiLoad } from './lib/schedule-api-load.js';

const DATE = '2025-03-03'; // a Monday

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`--${name} needs a whole number`);
  return v;
}

/** mulberry32: small, seeded, repeatable. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(rand: () => number, weighted: ReadonlyArray<readonly [T, number]>): T {
  const total = weighted.reduce((s, [, w]) => s + w, 0);
  let x = rand() * total;
  for (const [v, w] of weighted) {
    x -= w;
    if (x < 0) return v;
  }
  const last = weighted[weighted.length - 1];
  if (last === undefined) throw new RangeError('empty choice');
  return last[0];
}

function syntheticDay(n: number, seed: number): { site: Site; requests: BookingRequest[] } {
  const rand = rng(seed);
  const roster: DutyShift[] = [];
  for (let i = 1; i <= 12; i++) roster.push({ lawyerId: `duty-${i}`, date: DATE, start: 8 * 60 + 45, end: 11 * 60 + 15 });
  for (let i = 7; i <= 18; i++) roster.push({ lawyerId: `duty-${i}`, date: DATE, start: 13 * 60 + 45, end: 16 * 60 + 15 });
  const site = defaultSite({
    dutyRoster: roster,
    reservedWindows: [
      { id: 'r-higher', priorityClass: 'higher', roomId: 'plea-1', weekday: 1, start: 9 * 60, end: 10 * 60 },
      { id: 'r-sibling', priorityClass: 'sibling', roomId: 'interrogation-6', weekday: 1, start: 14 * 60, end: 15 * 60 },
    ],
  });
  const detainees = Math.max(1, Math.round(n * 0.75));
  const requests: BookingRequest[] = [];
  for (let i = 0; i < n; i++) {
    const priorityClass = pick<PriorityClass>(rand, [['district', 80], ['higher', 8], ['sibling', 12]]);
    const sessionKind = pick<SessionKind>(rand, [['plea_hearing', 55], ['arraignment', 35], ['bail_hearing', 10]]);
    const durationMin = pick(rand, [[8, 10], [10, 25], [12, 35], [14, 20], [18, 10]] as const);
    const blockStart = rand() < 0.5 ? 9 * 60 : 14 * 60;
    // crowded at the opening of the window: offset = 115 * u^1.5 rounded to 5 minutes
    const requestedStart = blockStart + Math.min(105, 5 * Math.round((115 * rand() ** 1.5) / 5));
    const lawyerDraw = rand();
    const morning = blockStart < 12 * 60;
    const dutyPick = `duty-${(morning ? 1 : 7) + Math.floor(rand() * 12)}`;
    const base = {
      requestId: `req-${String(i + 1).padStart(4, '0')}`,
      caseNumber: `(2025) Pro-${1000 + Math.floor(rand() * 9000)}`,
      detaineeId: `det-${1 + Math.floor(rand() * detainees)}`,
      procuratorateId: priorityClass === 'district' ? 'district' : `${priorityClass}-${1 + Math.floor(rand() * 3)}`,
      priorityClass,
      prosecutorId: `pros-${1 + Math.floor(rand() * 30)}`,
      sessionKind,
      date: DATE,
      requestedStart,
      durationMin,
    };
    requests.push(
      lawyerDraw < 0.5
        ? { ...base, lawyerRole: 'duty' }
        : lawyerDraw < 0.7
          ? { ...base, lawyerRole: 'duty', lawyerId: dutyPick }
          : { ...base, lawyerRole: 'defence', lawyerId: `def-${1 + Math.floor(rand() * 40)}` },
    );
  }
  return { site, requests };
}

async function main(): Promise<void> {
  const n = arg('requests', 400);
  const seed = arg('seed', 20250303);
  const runs = Math.max(1, arg('runs', 15));
  const { site, requests } = syntheticDay(n, seed);

  for (let i = 0; i < 5; i++) planDay(requests, site);
  const times: number[] = [];
  let plan = planDay(requests, site);
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    plan = planDay(requests, site);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] ?? 0;

  const placed = plan.placed;
  const pad = (m: number): string => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  let bestTwoHourBlock = 0;
  let bestBlockStart = 0;
  for (let t = 0; t + 120 <= 1440; t += 5) {
    const count = placed.filter((b) => roomSlot(b).start >= t && roomSlot(b).end <= t + 120).length;
    if (count > bestTwoHourBlock) {
      bestTwoHourBlock = count;
      bestBlockStart = t;
    }
  }
  // The same count over the configured working windows themselves (the blocks the site's design
  // figure of 80 per two-hour block refers to): a session counts in the window its room slot lies in.
  const perWindow = windowsOn(site, DATE).map((w) => ({
    window: `${pad(w.start)}-${pad(w.end)}`,
    minutes: w.end - w.start,
    sessions: placed.filter((b) => roomSlot(b).start >= w.start && roomSlot(b).end <= w.end).length,
  }));
  const bestAligned = perWindow.reduce<(typeof perWindow)[number] | undefined>((best, w) => (best === undefined || w.sessions > best.sessions ? w : best), undefined);
  const windowMinutes = windowsOn(site, DATE).reduce((s, w) => s + (w.end - w.start), 0);
  const activeRooms = site.rooms.filter((r) => r.active).length;
  const used = placed.reduce((s, b) => s + (roomSlot(b).end - roomSlot(b).start), 0);
  const byClass = (c: PriorityClass): string => {
    const asked = requests.filter((r) => r.priorityClass === c).length;
    const got = placed.filter((b) => b.request.priorityClass === c).length;
    return `${got}/${asked}`;
  };
  const result = {
    bench: 'schedule.planDay',
    requests: n,
    seed,
    placed: placed.length,
    unplaced: plan.unplaced.length,
    placedByClass: { higher: byClass('higher'), sibling: byClass('sibling'), district: byClass('district') },
    bestTwoHourBlock,
    bestTwoHourBlockStart: pad(bestBlockStart),
    bestTwoHourBlockIs: 'sliding: any 120 minutes on a 5-minute step',
    bestAlignedBlock: bestAligned?.sessions ?? 0,
    bestAlignedBlockWindow: bestAligned?.window ?? null,
    sessionsPerWindow: Object.fromEntries(perWindow.map((w) => [w.window, w.sessions])),
    utilisationPercent: Math.round((1000 * used) / (windowMinutes * activeRooms)) / 10,
    meanDistanceFromRequestedMin: Math.round((10 * placed.reduce((s, b) => s + Math.abs(b.start - b.request.requestedStart), 0)) / Math.max(1, placed.length)) / 10,
    planMs: Math.round(median * 100) / 100,
    planMsOf: `median of ${runs} runs after 5 warm-up runs`,
    planMsMin: Math.round((times[0] ?? 0) * 100) / 100,
    planMsMax: Math.round((times[times.length - 1] ?? 0) * 100) / 100,
    node: process.version,
  };
  const apiRequests = arg('api-requests', 1800);
  const api = apiRequests > 0 ? await scheduleApiLoad({ requests: apiRequests, clients: Math.max(1, arg('clients', 8)), seed, repoRoot }) : null;
  Object.assign(result, api ? { apiOpsPerSecond: api.apiOpsPerSecond, p95Ms: api.p95Ms, p95MsOf: 'server-side (Fastify responseTime), mixed operations', api } : {});
  if (process.argv.includes('--json')) console.log(JSON.stringify(result));
  else console.log(JSON.stringify(result, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
