// Which ffmpeg to run: the configured path, else a system ffmpeg (Debian 12's
// 5.1, which has ffprobe), else the static build shipped by @ffmpeg-installer.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

export interface FfmpegBinary {
  path: string;
  origin: 'configured' | 'system' | 'packaged';
}

let cached: FfmpegBinary | null = null;

export function findFfmpeg(configured = ''): FfmpegBinary {
  if (configured) return { path: configured, origin: 'configured' };
  if (cached) return cached;
  const system = spawnSync('ffmpeg', ['-hide_banner', '-version'], { stdio: 'ignore' });
  if (system.status === 0) {
    cached = { path: 'ffmpeg', origin: 'system' };
  } else {
    const require = createRequire(import.meta.url);
    const installer = require('@ffmpeg-installer/ffmpeg') as { path: string };
    cached = { path: installer.path, origin: 'packaged' };
  }
  return cached;
}
