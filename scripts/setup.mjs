#!/usr/bin/env node
// Does whatever set-up is missing, so that `npm start` and `npm test` work on a
// fresh clone of a fresh Debian 12 machine with Node 20:
//   1. Debian packages (when root): ffmpeg, fonts, the worker's build libraries,
//      meson from bookworm-backports, and Chromium for the browser tests.
//   2. npm packages (npm ci), without mediasoup's own postinstall (it would try
//      to download a worker, then pip packages: neither works offline).
//   3. The mediasoup worker, cached outside the repository (scripts/build-worker.mjs).
//   4. argon2 (password hashing): when its shipped prebuilt binary does not load
//      on this machine (it crashes on some), it is built from source against the
//      running Node's headers; the server falls back to scrypt if that fails too.
//   5. The web front end (vite build), when its sources are newer than the build.
// Each step is skipped when already done. Pass --no-browser to skip Chromium.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, workerBinPath } from './lib/worker-cache.mjs';

const log = (msg) => process.stderr.write(`[setup] ${msg}\n`);
const wantBrowser = !process.argv.includes('--no-browser');

// Children's output goes to stderr: stdout belongs to what runs after set-up
// (a benchmark's one JSON object).
const toStderr = ['inherit', 2, 'inherit'];

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: toStderr, cwd: repoRoot, ...opts });
  if (r.status !== 0) throw new Error(`setup: ${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
}

function debInstalled(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

function mesonRecentEnough() {
  const r = spawnSync('meson', ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) return false;
  const [maj, min] = r.stdout.trim().split('.').map(Number);
  return maj > 1 || (maj === 1 && min >= 1);
}

function systemPackages() {
  const isRoot = process.getuid?.() === 0;
  const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  const needWorkerBuild = !existsSync(workerBinPath() ?? '/nonexistent');
  // xorriso writes and burns disc images; bsdtar (libarchive-tools) reads them back independently;
  // the tests read the evidence video's burned-in time back with Tesseract (tesseract-ocr, English data).
  const wanted = ['ffmpeg', 'fonts-noto-cjk', 'xorriso', 'libarchive-tools', 'tesseract-ocr', 'tesseract-ocr-eng'];
  if (wantBrowser) wanted.push('chromium');
  if (needWorkerBuild) {
    wanted.push('build-essential', 'python3', 'pkg-config', 'ninja-build', 'libuv1-dev', 'libssl-dev', 'libsrtp2-dev', 'libusrsctp-dev', 'libabsl-dev', 'libflatbuffers-dev', 'flatbuffers-compiler');
  }
  const missing = wanted.filter((p) => !debInstalled(p));
  const needMeson = needWorkerBuild && !mesonRecentEnough();
  if (!missing.length && !needMeson) return;
  if (!isRoot || !hasApt) {
    log(`missing Debian packages: ${[...missing, ...(needMeson ? ['meson (>= 1.1, bookworm-backports)'] : [])].join(' ')}`);
    log('run this set-up as root once, or install them yourself; continuing');
    return;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (needMeson) {
    const list = '/etc/apt/sources.list.d/bookworm-backports.list';
    const already = spawnSync('sh', ['-c', 'grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/']).status === 0;
    if (!already) {
      log('adding bookworm-backports (for meson 1.7) to apt sources');
      writeFileSync(list, 'deb http://deb.debian.org/debian bookworm-backports main\n');
    }
  }
  log(`installing Debian packages: ${[...missing, ...(needMeson ? ['meson'] : [])].join(' ')}`);
  run('apt-get', ['update', '-q'], { env });
  if (missing.length) run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { env });
  if (needMeson) run('apt-get', ['install', '-y', '-q', '--no-install-recommends', '-t', 'bookworm-backports', 'meson'], { env });
}

function npmPackages() {
  const marker = path.join(repoRoot, 'node_modules', '.package-lock.json');
  const lock = path.join(repoRoot, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  // A node_modules that is a link belongs to another checkout (a git worktree
  // sharing one install): npm ci would empty that checkout's install through it.
  if (lstatSync(path.join(repoRoot, 'node_modules'), { throwIfNoEntry: false })?.isSymbolicLink()) {
    log('node_modules is a link to another checkout\'s install: not reinstalling it from here (run set-up in that checkout)');
    return;
  }
  log('installing npm packages (npm ci)');
  // mediasoup's postinstall is denied in package.json (allowScripts); for npm
  // versions without allowScripts, MEDIASOUP_WORKER_BIN makes it skip itself.
  run('npm', ['ci', '--no-audit', '--no-fund'], { env: { ...process.env, MEDIASOUP_WORKER_BIN: '/nonexistent/mediasoup-worker' } });
}

function argon2Loads() {
  const r = spawnSync(process.execPath, ['-e', "require('argon2').hash('probe').then(() => process.exit(0), () => process.exit(1))"], { cwd: repoRoot, timeout: 20_000, stdio: 'ignore' });
  return r.status === 0;
}

function passwordHashing() {
  const dir = path.join(repoRoot, 'node_modules', 'argon2');
  if (!existsSync(dir) || argon2Loads()) return;
  const nodeDir = path.resolve(path.dirname(process.execPath), '..');
  const npmCli = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' });
  const gyp = path.join((npmCli.stdout ?? '').trim(), 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (!existsSync(path.join(nodeDir, 'include', 'node', 'node.h')) || !existsSync(gyp)) {
    log('argon2 does not load here and cannot be built (no Node headers or node-gyp): passwords use scrypt');
    return;
  }
  log('argon2\'s prebuilt binary does not load here: building it from source');
  const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodeDir}`], { cwd: dir, stdio: toStderr });
  if (r.status !== 0 || !argon2Loads()) log('argon2 could not be built: passwords use scrypt');
}

async function worker() {
  const { ensureWorker } = await import('./build-worker.mjs');
  await ensureWorker();
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'dist' || entry.name === 'node_modules') continue;
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function webFrontEnd() {
  const index = path.join(repoRoot, 'web', 'dist', 'index.html');
  const sources = Math.max(newestMtime(path.join(repoRoot, 'web')), statSync(path.join(repoRoot, 'server', 'signalling', 'protocol.ts')).mtimeMs);
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  log('building the web front end (vite)');
  run(path.join(repoRoot, 'node_modules', '.bin', 'vite'), ['build', '--config', 'web/vite.config.ts', '--logLevel', 'warn']);
}

try {
  const [major] = process.versions.node.split('.').map(Number);
  if (major < 20) throw new Error(`Node ${process.versions.node} is too old: Node 20 or newer is needed`);
  systemPackages();
  npmPackages();
  await worker();
  passwordHashing();
  webFrontEnd();
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
