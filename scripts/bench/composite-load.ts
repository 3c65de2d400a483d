// compositeCpuPercent: the load of one room agent rendering its evidence video
// live, in % of one core. The same compositor the room agent runs (encoder
// ffmpeg reading the room's camera and microphone; inset pipes and mixed sound
// clocked by this process), fed by the same taps the agent's players use: two
// remote parties (VP8 640x480 + Opus) decoded, scaled and sent raw. Counted:
// the encoder, the inset/sound decoders (on a room PC they also show the
// parties on screen) and this process's clock work.
//
//   npx tsx scripts/bench/composite-load.ts [--seconds 30] [--main moving|beep-flash] [--preset ultrafast] [--json]
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { EvidenceCompositor, processCpuSeconds } from '../../room-agent/evidence/compositor.js';
import { audioTapArgs, frameSplitter, insetTapArgs } from '../../room-agent/evidence/evidence-recorder.js';
import { beepFlashLavfi } from '../../room-agent/beep-flash-clip.js';
import { findFont } from '../../room-agent/synthetic-clip.js';
import { findFfmpeg } from '../../server/media/ffmpeg-binary.js';

export interface CompositeLoadOptions {
  seconds?: number;
  ffmpegPath?: string;
  /** The room camera: a moving 1280x720 test picture (default) or the beep-and-flash pattern. */
  main?: 'moving' | 'beep-flash';
  preset?: 'ultrafast' | 'superfast' | 'veryfast';
  width?: number;
  height?: number;
  remoteParties?: number;
  workDir?: string;
  onProgress?: (doneS: number, totalS: number) => void;
}

export interface CompositeLoad {
  compositeCpuPercent: number;
  encoderCpuPercent: number;
  decodersCpuPercent: number;
  agentClockCpuPercent: number;
  framesEncoded: number;
  fps: number;
  overruns: number;
  seconds: number;
  width: number;
  height: number;
  preset: string;
  main: string;
  remoteParties: number;
  cores: number;
}

async function run(ffmpeg: string, args: string[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const c = spawn(ffmpeg, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg failed (${code}): ${err}`))));
  });
}

/** A remote party's stream as the agent receives it: VP8 640x480 + Opus, moving. */
async function remoteClip(ffmpeg: string, dir: string, n: number): Promise<string> {
  const file = path.join(dir, `remote-${n}.webm`);
  if (existsSync(file)) return file;
  await run(ffmpeg, [
    '-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=640x480:rate=25:duration=10`, '-f', 'lavfi', '-i', `sine=f=${300 + 100 * n}:r=48000:d=10`,
    '-c:v', 'libvpx', '-b:v', '800k', '-deadline', 'realtime', '-cpu-used', '8', '-g', '50', '-c:a', 'libopus', '-b:a', '48k', '-ac', '2', file,
  ]);
  return file;
}

export async function measureCompositeLoad(options: CompositeLoadOptions = {}): Promise<CompositeLoad> {
  const seconds = options.seconds ?? 30;
  const ffmpeg = options.ffmpegPath ?? findFfmpeg('').path;
  const main = options.main ?? 'moving';
  const preset = options.preset ?? 'ultrafast';
  const width = options.width ?? 1024;
  const height = options.height ?? 576;
  const remotes = options.remoteParties ?? 2;
  const own = !options.workDir;
  const dir = options.workDir ?? mkdtempSync(path.join(os.tmpdir(), 'plea-composite-'));
  mkdirSync(dir, { recursive: true });
  const clips = await Promise.all(Array.from({ length: remotes }, (_v, i) => remoteClip(ffmpeg, dir, i)));
  const nameFile = path.join(dir, 'room.txt');
  writeFileSync(nameFile, '讯问室 1');
  const graph =
    main === 'beep-flash'
      ? beepFlashLavfi({ roomId: 'bench', roomName: '讯问室 1' }, nameFile)
      : 'testsrc2=size=1280x720:rate=25[out0];sine=f=440:r=48000,aformat=channel_layouts=stereo[out1]';
  const compositor = new EvidenceCompositor(
    {
      ffmpegPath: ffmpeg, main: { kind: 'lavfi', graph }, width, height, fps: 25,
      slots: [{ label: '检察官 Prosecutor' }, { label: '律师 Lawyer' }, { label: '来宾 Guest' }], insetWidth: 224, insetHeight: 168,
      sessionClockAtStartMs: Date.now(), timeZone: 'Asia/Shanghai', caseNumber: '(2026)京0101刑诉1号', roomName: '讯问室 1', fontFile: findFont(),
      dir: path.join(dir, 'out'), prefix: '20260101T000000Z', segmentSeconds: 180, preset, threads: 2,
    },
    { segment: () => undefined, exit: () => undefined }
  );
  compositor.start();
  const decoders: ChildProcess[] = [];
  clips.forEach((clip, i) => {
    for (const kind of ['video', 'audio'] as const) {
      const tap = kind === 'video' ? insetTapArgs() : audioTapArgs();
      const c = spawn(ffmpeg, ['-v', 'error', '-re', '-stream_loop', '-1', '-i', clip, ...tap], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
      const onData = kind === 'video' ? frameSplitter(compositor.insetFrameBytes, (f) => compositor.insetFrame(i, f)) : (d: Buffer) => compositor.audioData(`remote-${i}`, d);
      (c.stdio[3] as NodeJS.ReadableStream).on('data', onData);
      decoders.push(c);
    }
  });
  try {
    // Measure after a settling second, over `seconds`.
    await new Promise((r) => setTimeout(r, 1500));
    const cpu = () => ({
      enc: compositor.cpuSeconds() ?? 0,
      dec: decoders.reduce((n, d) => n + (d.pid ? processCpuSeconds(d.pid) ?? 0 : 0), 0),
      clock: compositor.clockMs,
      frames: compositor.framesEncoded,
      at: performance.now(),
    });
    const a = cpu();
    for (let s = 0; s < seconds; s++) {
      await new Promise((r) => setTimeout(r, 1000));
      options.onProgress?.(s + 1, seconds);
    }
    const b = cpu();
    const wall = (b.at - a.at) / 1000;
    const pct = (x: number) => Math.round((x / wall) * 1000) / 10;
    const encoder = pct(b.enc - a.enc);
    const decodersPct = pct(b.dec - a.dec);
    const clockPct = pct((b.clock - a.clock) / 1000);
    return {
      compositeCpuPercent: Math.round((encoder + decodersPct + clockPct) * 10) / 10,
      encoderCpuPercent: encoder,
      decodersCpuPercent: decodersPct,
      agentClockCpuPercent: clockPct,
      framesEncoded: compositor.framesEncoded,
      fps: Math.round(((b.frames - a.frames) / wall) * 10) / 10,
      overruns: compositor.overruns,
      seconds: Math.round(wall * 10) / 10,
      width, height, preset, main, remoteParties: remotes,
      cores: os.cpus().length,
    };
  } finally {
    for (const d of decoders) d.kill('SIGKILL');
    await compositor.stop();
    if (own) rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const opt = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const json = args.includes('--json');
  const result = await measureCompositeLoad({
    seconds: Number(opt('seconds') ?? 30),
    main: (opt('main') as 'moving' | 'beep-flash' | undefined) ?? 'moving',
    preset: (opt('preset') as 'ultrafast' | undefined) ?? 'ultrafast',
    onProgress: json ? undefined : (d, t) => process.stderr.write(`\rmeasuring ${d}/${t} s`),
  });
  if (!json) process.stderr.write('\n');
  console.log(JSON.stringify(result));
}
