// The project's A/V sync analyser. For a recording of the beep-and-flash
// source (room-agent/beep-flash-clip.ts) it finds, with ffmpeg's own filters,
// every flash onset in the picture (signalstats YAVG of a region rising past
// the midpoint between its dark and bright levels) and every beep onset in the
// sound (a band-pass at the beep's frequency, then silencedetect's ends), pairs
// each flash with its nearest beep, and reports the A/V offset (audio minus
// video: positive = sound late) at the start, around given minutes, and over
// the whole file.
//
//   npx tsx recordings/sync-analyser.ts <file> [--minutes 10] [--json]
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';

export interface Region {
  /** Fractions of the picture (0..1): the part where the flash is looked for. */
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface AnalyseOptions {
  ffmpegPath?: string;
  /** Where the room's picture is not covered by insets or text: default the left half, rows 20–80 %. */
  region?: Region;
  beepHz?: number;
  /** Minutes at which the offset is reported too (e.g. [10]). */
  atMinutes?: number[];
  /** Pairs whose flash and beep are further apart than this are not the same event. */
  maxPairS?: number;
}

export interface OffsetStat {
  /** Median offset of the pairs in the window, ms (audio minus video). */
  offsetMs: number;
  /** Largest |offset| in the window, ms. */
  maxAbsMs: number;
  pairs: number;
}

export interface SyncReport {
  flashes: number[];
  beeps: number[];
  pairs: Array<{ videoS: number; audioS: number; offsetMs: number }>;
  start: OffsetStat | null;
  at: Array<{ minute: number } & ({ found: true } & OffsetStat | { found: false })>;
  overall: OffsetStat | null;
  /** Longest span between consecutive flashes, s: a frozen picture shows as a long one. */
  longestFlashGapS: number | null;
}

function run(ffmpeg: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`ffmpeg failed (${code}): ${stderr.slice(-1500)}`));
    });
  });
}

/** Times (s) at which the region's brightness rises past the midpoint of its range. */
export async function flashOnsets(file: string, options: AnalyseOptions = {}): Promise<number[]> {
  const r = options.region ?? { x: 0.02, y: 0.2, w: 0.45, h: 0.6 };
  const crop = `crop=iw*${r.w}:ih*${r.h}:iw*${r.x}:ih*${r.y}`;
  const { stdout } = await run(options.ffmpegPath ?? 'ffmpeg', [
    '-hide_banner', '-nostats', '-loglevel', 'error', '-i', file, '-map', '0:v:0',
    '-vf', `${crop},scale=64:36,signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-`,
    '-f', 'null', '-',
  ]);
  const samples: Array<{ t: number; y: number }> = [];
  let t: number | null = null;
  for (const line of stdout.split('\n')) {
    const pts = /pts_time:(-?[\d.]+)/.exec(line);
    if (pts) t = Number(pts[1]);
    const y = /YAVG=([\d.]+)/.exec(line);
    if (y && t !== null) samples.push({ t, y: Number(y[1]) });
  }
  if (samples.length < 2) return [];
  const ys = samples.map((s) => s.y).sort((a, b) => a - b);
  const low = ys[Math.floor(ys.length * 0.1)]!;
  const high = ys[Math.floor(ys.length * 0.99)]!;
  if (high - low < 40) return []; // no flash in the region at all
  const mid = (low + high) / 2;
  const onsets: number[] = [];
  for (let i = 1; i < samples.length; i++) if (samples[i - 1]!.y < mid && samples[i]!.y >= mid) onsets.push(samples[i]!.t);
  return onsets;
}

/** Times (s) at which a beep at `beepHz` starts (end of the silence before it). */
export async function beepOnsets(file: string, options: AnalyseOptions = {}): Promise<number[]> {
  const hz = options.beepHz ?? 1000;
  const { stderr } = await run(options.ffmpegPath ?? 'ffmpeg', [
    '-hide_banner', '-nostats', '-loglevel', 'info', '-i', file, '-map', '0:a:0',
    '-af', `pan=mono|c0=0.5*c0+0.5*c1,bandpass=f=${hz}:width_type=q:w=4,bandpass=f=${hz}:width_type=q:w=4,silencedetect=n=-30dB:d=0.3`,
    '-f', 'null', '-',
  ]);
  return [...stderr.matchAll(/silence_end: (-?[\d.]+)/g)].map((m) => Number(m[1]));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

function stat(pairs: SyncReport['pairs']): OffsetStat | null {
  if (!pairs.length) return null;
  const offs = pairs.map((p) => p.offsetMs);
  return { offsetMs: Math.round(median(offs) * 10) / 10, maxAbsMs: Math.round(Math.max(...offs.map(Math.abs)) * 10) / 10, pairs: pairs.length };
}

/** Pairs flashes and beeps and reports the offsets. Pure: the tests feed it times. */
export function pairOnsets(flashes: number[], beeps: number[], options: AnalyseOptions = {}): SyncReport {
  const maxPair = options.maxPairS ?? 0.4;
  const pairs: SyncReport['pairs'] = [];
  for (const v of flashes) {
    let best: number | null = null;
    for (const a of beeps) if (Math.abs(a - v) <= maxPair && (best === null || Math.abs(a - v) < Math.abs(best - v))) best = a;
    if (best !== null) pairs.push({ videoS: v, audioS: best, offsetMs: Math.round((best - v) * 10_000) / 10 });
  }
  const first = pairs[0]?.videoS ?? 0;
  const start = stat(pairs.filter((p) => p.videoS < first + 5));
  const at = (options.atMinutes ?? []).map((minute) => {
    const t = minute * 60;
    const window = pairs.filter((p) => Math.abs(p.videoS - t) <= 5);
    const s = stat(window);
    return s ? { minute, found: true as const, ...s } : { minute, found: false as const };
  });
  let longest: number | null = null;
  for (let i = 1; i < flashes.length; i++) longest = Math.max(longest ?? 0, flashes[i]! - flashes[i - 1]!);
  return { flashes, beeps, pairs, start, at, overall: stat(pairs), longestFlashGapS: longest === null ? null : Math.round(longest * 1000) / 1000 };
}

export async function analyseSync(file: string, options: AnalyseOptions = {}): Promise<SyncReport> {
  const [flashes, beeps] = await Promise.all([flashOnsets(file, options), beepOnsets(file, options)]);
  return pairOnsets(flashes, beeps, options);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  const mIdx = args.indexOf('--minutes');
  const minutes = mIdx >= 0 ? [Number(args[mIdx + 1])] : [];
  if (!file) {
    console.error('usage: sync-analyser <file> [--minutes N] [--json]');
    process.exit(2);
  }
  const report = await analyseSync(file, { atMinutes: minutes });
  if (args.includes('--json')) console.log(JSON.stringify({ ...report, flashes: report.flashes.length, beeps: report.beeps.length, pairs: report.pairs.length }));
  else console.log(`flashes ${report.flashes.length}, beeps ${report.beeps.length}, pairs ${report.pairs.length}; start ${JSON.stringify(report.start)}; overall ${JSON.stringify(report.overall)}; at ${JSON.stringify(report.at)}`);
}
