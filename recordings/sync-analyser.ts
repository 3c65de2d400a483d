// The project's A/V sync analyser. For a recording of the beep-and-flash
// source (room-agent/beep-flash-clip.ts) it finds, with ffmpeg's own filters,
// every flash onset in the picture (signalstats YAVG of a region rising past
// the midpoint between its dark and bright levels) and every beep onset in the
// sound (a band-pass at the beep's frequency, then silencedetect's ends), pairs
// each flash with its nearest beep, and reports the A/V offset (audio minus
// video: positive = sound late) at the start, around given minutes, and over
// the whole file.
//
// Party alignment: when the room and the remote parties all flash (and beep,
// each at its own pitch) on the same wall-clock seconds, the same onsets found
// in the main picture and in each inset's region (and each party's beep in the
// mixed sound) give every party's offset against the room, second by second
// (positive = the party shows late). The burned-in clock is checked the same
// way: the frames where its text changes (a new second) against the room's
// flashes, which fall on whole seconds of the session clock.
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
  /** Sound bursts shorter than this (s) are not counted as beeps (default: every burst). */
  minBeepS?: number;
  /** Q of the band-pass around beepHz (default 4; narrower where other beeps sound in the same mix). */
  beepQ?: number;
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
  const q = options.beepQ ?? 4;
  const { stderr } = await run(options.ffmpegPath ?? 'ffmpeg', [
    '-hide_banner', '-nostats', '-loglevel', 'info', '-i', file, '-map', '0:a:0',
    '-af', `pan=mono|c0=0.5*c0+0.5*c1,bandpass=f=${hz}:width_type=q:w=${q},bandpass=f=${hz}:width_type=q:w=${q},silencedetect=n=-30dB:d=0.3`,
    '-f', 'null', '-',
  ]);
  const ends = [...stderr.matchAll(/silence_end: (-?[\d.]+)/g)].map((m) => Number(m[1]));
  const minS = options.minBeepS ?? 0;
  if (minS <= 0) return ends;
  // The end of the file ends a silence too: that is no beep.
  const d = /Duration: (\d+):(\d+):([\d.]+)/.exec(stderr);
  const durationS = d ? Number(d[1]) * 3600 + Number(d[2]) * 60 + Number(d[3]) : Infinity;
  // A beep lasts until the next silence starts: shorter bursts (the clicks of another source's beep) are not beeps.
  const starts = [...stderr.matchAll(/silence_start: (-?[\d.]+)/g)].map((m) => Number(m[1]));
  return ends.filter((e) => {
    if (e >= durationS - 0.05) return false;
    const next = starts.find((st) => st > e);
    return next === undefined || next - e >= minS;
  });
}

/**
 * Times (s) of the frames at which a region's bright text changes: for the
 * burned-in clock's region, the frames that show a new second. Only the
 * text's core counts (pixels above `textLevel`): a flash behind the text's
 * half-transparent box brightens its edges, which move the mean by about 2–4
 * levels, while a new second moves it by 7–15 (measured on the evidence
 * video; `threshold` sits between).
 */
export async function regionChanges(file: string, region: Region, options: { ffmpegPath?: string; threshold?: number; textLevel?: number } = {}): Promise<number[]> {
  const r = region;
  const crop = `crop=iw*${r.w}:ih*${r.h}:iw*${r.x}:ih*${r.y}`;
  const { stdout } = await run(options.ffmpegPath ?? 'ffmpeg', [
    '-hide_banner', '-nostats', '-loglevel', 'error', '-i', file, '-map', '0:v:0',
    '-vf', `${crop},format=gray,lut=y='if(gt(val\\,${options.textLevel ?? 232})\\,255\\,0)',tblend=all_mode=difference,signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-`,
    '-f', 'null', '-',
  ]);
  const threshold = options.threshold ?? 5.5;
  const changes: Array<{ t: number; level: number }> = [];
  let t: number | null = null;
  for (const line of stdout.split('\n')) {
    const pts = /pts_time:(-?[\d.]+)/.exec(line);
    if (pts) t = Number(pts[1]);
    const y = /YAVG=([\d.]+)/.exec(line);
    // tblend's frame n is the difference of frames n and n-1, stamped with frame n's time.
    if (y && t !== null && Number(y[1]) > threshold) changes.push({ t, level: Number(y[1]) });
  }
  // The clock changes once a second: of changes closer than half a second, only the largest is its new second.
  return changes.filter((c) => !changes.some((o) => o !== c && Math.abs(o.t - c.t) < 0.45 && (o.level > c.level || (o.level === c.level && o.t < c.t)))).map((c) => c.t);
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

export interface AlignmentStat {
  /** Median offset, ms (party minus room: positive = the party shows late). */
  medianMs: number;
  /** The offset of largest magnitude, ms (signed). */
  worstMs: number;
  /** Seconds at which both onsets were found. */
  pairs: number;
}

export interface AlignmentPairs {
  stat: AlignmentStat | null;
  /** Per second: the room's onset and the party's offset from it. */
  offsets: Array<{ mainS: number; offsetMs: number }>;
}

/** Pairs each room onset with the nearest party onset (within maxPairS, under half the period). Pure. */
export function alignOnsets(main: number[], party: number[], maxPairS = 0.45): AlignmentPairs {
  const offsets: AlignmentPairs['offsets'] = [];
  for (const m of main) {
    let best: number | null = null;
    for (const p of party) if (Math.abs(p - m) <= maxPairS && (best === null || Math.abs(p - m) < Math.abs(best - m))) best = p;
    if (best !== null) offsets.push({ mainS: m, offsetMs: Math.round((best - m) * 10_000) / 10 });
  }
  if (!offsets.length) return { stat: null, offsets };
  const offs = offsets.map((o) => o.offsetMs);
  const worst = offs.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a));
  return { stat: { medianMs: Math.round(median(offs) * 10) / 10, worstMs: worst, pairs: offsets.length }, offsets };
}

export interface PartySource {
  party: string;
  /** The party's inset in the picture (fractions). */
  region: Region;
  /** The party's own beep pitch, when it beeps: its sound is aligned too. */
  beepHz?: number;
}

export interface PartyAlignmentReport {
  party: string;
  video: AlignmentPairs;
  audio: AlignmentPairs | null;
}

export interface AlignmentReport {
  mainFlashes: number;
  mainBeeps: number;
  parties: PartyAlignmentReport[];
  /** The burned-in clock's new seconds against the room's flashes (when a clock region is given). */
  clock: AlignmentPairs | null;
}

export interface AlignmentOptions {
  ffmpegPath?: string;
  /** The room's picture, outside insets and text (default as analyseSync). */
  main?: Region;
  mainBeepHz?: number;
  parties: PartySource[];
  /** The burned-in clock's text: its changes are compared with the room's flashes. */
  clockRegion?: Region;
  maxPairS?: number;
}

/**
 * Every party's offset against the room in an evidence video whose sources
 * flash together on whole seconds: per second, the median and the worst.
 */
export async function analyseAlignment(file: string, options: AlignmentOptions): Promise<AlignmentReport> {
  const base = { ...(options.ffmpegPath ? { ffmpegPath: options.ffmpegPath } : {}) };
  const [mainFlashes, mainBeeps] = await Promise.all([
    flashOnsets(file, { ...base, ...(options.main ? { region: options.main } : {}) }),
    beepOnsets(file, { ...base, beepHz: options.mainBeepHz ?? 1000, minBeepS: 0.05, beepQ: 8 }),
  ]);
  const parties: PartyAlignmentReport[] = [];
  for (const p of options.parties) {
    const flashes = await flashOnsets(file, { ...base, region: p.region });
    const beeps = p.beepHz ? await beepOnsets(file, { ...base, beepHz: p.beepHz, minBeepS: 0.05, beepQ: 8 }) : null;
    parties.push({ party: p.party, video: alignOnsets(mainFlashes, flashes, options.maxPairS), audio: beeps ? alignOnsets(mainBeeps, beeps, options.maxPairS) : null });
  }
  const clock = options.clockRegion ? alignOnsets(mainFlashes, await regionChanges(file, options.clockRegion, base), options.maxPairS) : null;
  return { mainFlashes: mainFlashes.length, mainBeeps: mainBeeps.length, parties, clock };
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
