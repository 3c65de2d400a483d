// The beep-and-flash synthetic room source: once a second, at the same instant,
// the whole picture turns white for two frames and a 1 kHz beep sounds for
// 100 ms; the rest of the second is a dark picture (room name, frame counter)
// and silence. Rendered once per room like the synthetic clip, then looped
// with `-c copy`. The sync analyser (recordings/sync-analyser.ts) finds both
// edges in a recording and measures the A/V offset from them.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { findFont } from './synthetic-clip.js';

export interface BeepFlashSpec {
  roomId: string;
  roomName: string;
  /** Length of the looped clip; whole seconds, so the loop keeps the 1 s period. */
  seconds?: number;
  width?: number;
  height?: number;
}

/** The pattern's facts, shared with the analyser and the tests. */
export const beepFlash = {
  fps: 25,
  /** A key frame every 5 frames (0.2 s), like the plain synthetic clip: the clip is copied, so a new viewer waits for the next one. */
  keyFrameIntervalFrames: 5,
  periodS: 1,
  flashFrames: 2,
  beepHz: 1000,
  beepS: 0.1,
} as const;

/**
 * The pattern as one live lavfi graph (video out0, audio out1, one clock): the
 * evidence compositor reads it with -re as the room's camera and microphone in
 * beep-and-flash mode. A looped clip does not do here: each loop of a WebM with
 * Opus (pre-skip) shifts the sound against the picture by a few ms.
 */
export function beepFlashLavfi(spec: BeepFlashSpec, textFile: string | null, clockOffsetMs = 0): string {
  const width = spec.width ?? 1280;
  const height = spec.height ?? 720;
  const font = findFont();
  const flashS = beepFlash.flashFrames / beepFlash.fps;
  // On whole seconds of the wall clock plus clockOffsetMs (the session clock):
  // at its first frame (and first sample) each expression keeps the phase of
  // its t=0 in the second (ld(0)), so the room flashes and beeps at the same
  // instants as every other source aligned to that clock. Picture and sound
  // each take their phase at their own first evaluation (a few ms apart at
  // most), so nothing is rounded (a rounding of two such phases could fall
  // either side of a frame: 40 ms apart). The beep starts on the second; the
  // flash on the frame nearest to it (its test is half a frame early), within
  // 20 ms of the beep.
  const fps = beepFlash.fps;
  const phase = `if(eq(ld(1)\\,0)\\,st(0\\,mod(time(0)+${(clockOffsetMs / 1000).toFixed(3)}-t\\,1))+st(1\\,1))`;
  const inSecond = `mod(t+ld(0)\\,${beepFlash.periodS})`;
  const text = font && textFile
    ? `,drawtext=fontfile='${font}':textfile='${textFile}':fontsize=${Math.round(height / 10)}:fontcolor=white:x=(w-text_w)/2:y=h*0.35` +
      `,drawtext=fontfile='${font}':text='%{n}':fontsize=${Math.round(height / 14)}:fontcolor=0x80c0ff:x=(w-text_w)/2:y=h*0.6`
    : '';
  // The tone's phase counts from the second, so the beep starts at a zero crossing (no click to splash into other pitches).
  const tone = `${phase};if(lt(${inSecond}\\,${beepFlash.beepS})\\,0.7*sin(2*PI*${beepFlash.beepHz}*${inSecond})\\,0)`;
  return (
    `color=c=0x283038:s=${width}x${height}:r=${beepFlash.fps},format=yuv420p${text},drawbox=x=0:y=0:w=iw:h=ih:c=white:t=fill:enable='${phase};lt(mod(t+ld(0)+${0.5 / fps}\\,${beepFlash.periodS})\\,${flashS})'[out0];` +
    `aevalsrc='${tone}|${tone}':s=48000:c=stereo[out1]`
  );
}

/** Returns the path of the room's beep-and-flash clip (VP8 + Opus WebM), rendering it first if needed. */
export async function ensureBeepFlashClip(ffmpeg: string, dir: string, spec: BeepFlashSpec): Promise<string> {
  // Small and short: rendered on the room PC before its first join (the evidence
  // video's own main picture is the live 1280x720 pattern, beepFlashLavfi).
  const seconds = Math.max(2, Math.round(spec.seconds ?? 4));
  const width = spec.width ?? 640;
  const height = spec.height ?? 360;
  const font = findFont();
  const key = createHash('sha256').update(JSON.stringify(['beep-flash', spec.roomId, spec.roomName, seconds, width, height, font, beepFlash, 1])).digest('hex').slice(0, 10);
  const file = path.join(dir, `${spec.roomId}-beepflash-${key}.webm`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  // The room name goes through a text file: no escaping of outside text in the filter graph.
  const nameFile = path.join(dir, `${spec.roomId}-beepflash-${key}.txt`);
  writeFileSync(nameFile, spec.roomName);
  const flashS = beepFlash.flashFrames / beepFlash.fps;
  const text = font
    ? `,drawtext=fontfile='${font}':textfile='${nameFile}':fontsize=${Math.round(height / 10)}:fontcolor=white:x=(w-text_w)/2:y=h*0.35` +
      `,drawtext=fontfile='${font}':text='%{n}':fontsize=${Math.round(height / 14)}:fontcolor=0x80c0ff:x=(w-text_w)/2:y=h*0.6`
    : '';
  const video = `color=c=0x283038:s=${width}x${height}:r=${beepFlash.fps}:d=${seconds},format=yuv420p${text},drawbox=x=0:y=0:w=iw:h=ih:c=white:t=fill:enable='lt(mod(t\\,${beepFlash.periodS})\\,${flashS - 0.001})'`;
  const tone = `if(lt(mod(t\\,${beepFlash.periodS})\\,${beepFlash.beepS})\\,0.7*sin(2*PI*${beepFlash.beepHz}*t)\\,0)`;
  const audio = `aevalsrc='${tone}|${tone}':s=48000:d=${seconds}`;
  const tmp = `${file}.tmp.webm`;
  const args = [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', video,
    '-f', 'lavfi', '-i', audio,
    '-c:v', 'libvpx', '-b:v', '1500k', '-g', String(beepFlash.keyFrameIntervalFrames), '-keyint_min', String(beepFlash.keyFrameIntervalFrames), '-deadline', 'realtime', '-cpu-used', '8', '-threads', '2', '-auto-alt-ref', '0',
    '-c:a', 'libopus', '-b:a', '64k', '-ac', '2', '-ar', '48000',
    '-shortest', tmp,
  ];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(ffmpeg, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`rendering the beep-and-flash clip failed (${code}): ${err}`))));
  });
  renameSync(tmp, file);
  return file;
}
