// The synthetic room camera and microphone: a short clip rendered once per room
// (a test picture with the room's name and a tone of its own), then looped with
// `-c copy`, which costs about 1% of a core instead of ~20% for a live encode.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';

const fontCandidates = [
  '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc',
  '/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc',
  '/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
];

export function findFont(): string | null {
  return fontCandidates.find((f) => existsSync(f)) ?? null;
}

/** Escapes text for an ffmpeg drawtext filter argument. */
function drawtextEscape(text: string): string {
  return text.replace(/\\/g, '\\\\\\\\').replace(/'/g, "\u2019").replace(/:/g, '\\:').replace(/%/g, '\\%');
}

/** Frame rate of the clip. */
export const CLIP_FPS = 30;
/**
 * A key frame every 6 frames (0.2 s): the clip is copied, not encoded live, so
 * a new viewer's key-frame request goes unanswered and it waits for the next
 * key frame; 0.2 s instead of 1 s keeps join-to-first-frame short (the cost:
 * README, "Figures").
 */
export const KEY_FRAME_INTERVAL_FRAMES = 6;

export interface ClipSpec {
  roomId: string;
  roomName: string;
  seconds?: number;
  width?: number;
  height?: number;
}

/** Returns the path of the room's clip, rendering it first if needed. */
export async function ensureSyntheticClip(ffmpeg: string, dir: string, spec: ClipSpec): Promise<string> {
  const seconds = spec.seconds ?? 10;
  const width = spec.width ?? 640;
  const height = spec.height ?? 360;
  const font = findFont();
  const key = createHash('sha256').update(JSON.stringify([spec.roomId, spec.roomName, seconds, width, height, font, 3, KEY_FRAME_INTERVAL_FRAMES])).digest('hex').slice(0, 10);
  const file = path.join(dir, `${spec.roomId}-${key}.webm`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  // A tone per room (so a listener can tell rooms apart too): 300–900 Hz.
  const freq = 300 + (parseInt(createHash('md5').update(spec.roomId).digest('hex').slice(0, 4), 16) % 600);
  const text = font
    ? `,drawtext=fontfile='${font}':text='${drawtextEscape(spec.roomName)}':fontsize=${Math.round(height / 9)}:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=12:x=(w-text_w)/2:y=h*0.12` +
      `,drawtext=fontfile='${font}':text='${drawtextEscape(spec.roomId)}':fontsize=${Math.round(height / 16)}:fontcolor=yellow:box=1:boxcolor=black@0.6:boxborderw=8:x=(w-text_w)/2:y=h*0.80`
    : '';
  const tmp = `${file}.tmp.webm`;
  const args = [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${CLIP_FPS}:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=${freq}:sample_rate=48000:duration=${seconds}`,
    '-vf', `format=yuv420p${text}`,
    '-c:v', 'libvpx', '-b:v', '600k', '-g', String(KEY_FRAME_INTERVAL_FRAMES), '-keyint_min', String(KEY_FRAME_INTERVAL_FRAMES), '-deadline', 'realtime', '-cpu-used', '8', '-threads', '1', '-auto-alt-ref', '0',
    '-c:a', 'libopus', '-b:a', '48k', '-ac', '2', '-ar', '48000',
    '-shortest', tmp,
  ];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(ffmpeg, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`rendering the synthetic clip failed (${code}): ${err}`))));
  });
  renameSync(tmp, file);
  return file;
}
