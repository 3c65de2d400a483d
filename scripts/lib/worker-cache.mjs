// Where the mediasoup worker binary lives: outside the repository, keyed by the
// mediasoup version and by the build inputs (this project's build script), so
// that later installs and CI on the same machine reuse it.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function cacheRoot() {
  if (process.env.PLEA_CACHE_DIR) return process.env.PLEA_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'plea-room-controller');
}

export function mediasoupPackageDir() {
  return path.join(repoRoot, 'node_modules', 'mediasoup');
}

export function mediasoupVersion() {
  const pkgFile = path.join(mediasoupPackageDir(), 'package.json');
  if (!existsSync(pkgFile)) return null;
  return JSON.parse(readFileSync(pkgFile, 'utf8')).version;
}

/** The build-input key: mediasoup version, platform, and the build script itself. */
export function workerKey() {
  const version = mediasoupVersion();
  if (!version) return null;
  const script = readFileSync(path.join(repoRoot, 'scripts', 'build-worker.mjs'));
  const digest = createHash('sha256').update(script).update(process.platform + process.arch).digest('hex').slice(0, 12);
  return `${version}-${process.platform}-${process.arch}-${digest}`;
}

/** The worker binary to use: MEDIASOUP_WORKER_BIN if given, else the cached build. */
export function workerBinPath() {
  if (process.env.MEDIASOUP_WORKER_BIN && existsSync(process.env.MEDIASOUP_WORKER_BIN)) {
    return process.env.MEDIASOUP_WORKER_BIN;
  }
  const key = workerKey();
  return key ? path.join(cacheRoot(), 'mediasoup-worker', key, 'mediasoup-worker') : null;
}
