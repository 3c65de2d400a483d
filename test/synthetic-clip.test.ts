// The synthetic room clip is copied, never re-encoded, so a new viewer's
// key-frame request goes unanswered: it waits for the clip's next key frame.
// The clip must carry one at least every KEY_FRAME_INTERVAL_FRAMES (0.2 s).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findFfmpeg } from '../server/media/ffmpeg-binary.js';
import { CLIP_FPS, KEY_FRAME_INTERVAL_FRAMES, ensureSyntheticClip } from '../room-agent/synthetic-clip.js';
import { beepFlash, ensureBeepFlashClip } from '../room-agent/beep-flash-clip.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'plea-clip-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Presentation times (s) of the clip's key frames, from ffmpeg's showinfo (on stderr). */
function keyFrameTimes(ffmpeg: string, file: string): number[] {
  const run = spawnSync(ffmpeg, ['-hide_banner', '-i', file, '-map', '0:v:0', '-vf', "select='eq(pict_type\\,I)',showinfo", '-f', 'null', '-'], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`ffmpeg failed: ${run.stderr.slice(-500)}`);
  return [...run.stderr.matchAll(/pts_time:([0-9.]+)/g)].map((m) => Number(m[1]));
}

describe('synthetic room clip', () => {
  it('has a key frame at least every 0.2 s, so a new viewer sees the room quickly', async () => {
    const ffmpeg = findFfmpeg().path;
    const clip = await ensureSyntheticClip(ffmpeg, dir, { roomId: 'clip-test', roomName: '测试', seconds: 3 });
    const times = keyFrameTimes(ffmpeg, clip);
    // 3 s at one key frame per 0.2 s: 15 key frames.
    expect(times.length).toBeGreaterThanOrEqual(Math.floor((3 * CLIP_FPS) / KEY_FRAME_INTERVAL_FRAMES));
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(KEY_FRAME_INTERVAL_FRAMES / CLIP_FPS + 0.01);
    expect(KEY_FRAME_INTERVAL_FRAMES / CLIP_FPS).toBeLessThanOrEqual(0.2);
  });

  it('the beep-and-flash clip too', async () => {
    const ffmpeg = findFfmpeg().path;
    const clip = await ensureBeepFlashClip(ffmpeg, dir, { roomId: 'clip-test', roomName: '测试', seconds: 3 });
    const times = keyFrameTimes(ffmpeg, clip);
    expect(times.length).toBeGreaterThanOrEqual(Math.floor((3 * beepFlash.fps) / beepFlash.keyFrameIntervalFrames));
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(beepFlash.keyFrameIntervalFrames / beepFlash.fps + 0.01);
    expect(beepFlash.keyFrameIntervalFrames / beepFlash.fps).toBeLessThanOrEqual(0.2);
  });
});
