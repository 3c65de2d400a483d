#!/usr/bin/env node
// Provides the mediasoup worker binary without internet access.
//
// 1. A cached binary (keyed by mediasoup version and this script) is reused.
// 2. Otherwise mediasoup's prebuilt worker is tried (it cannot be had offline;
//    a failed download costs a fraction of a second).
// 3. Otherwise the worker is built from the mediasoup npm package's own sources
//    against Debian 12's system libraries: the meson subprojects (which would
//    be downloaded) are replaced by local ones that wrap the system libraries,
//    and three small source adaptations are applied (libsrtp 2 API, DTLS BIO
//    kTLS queries). liburing is disabled (cheaper on this kernel, and Debian's
//    2.3 lacks functions the worker calls).
//
// Progress is printed as "[worker] 37% (412/1113) compiling …".
// This file is plain JavaScript on purpose: it runs before node_modules has tsx.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cacheRoot, mediasoupPackageDir, mediasoupVersion, workerBinPath } from './lib/worker-cache.mjs';

const log = (msg) => process.stderr.write(`[worker] ${msg}\n`);

/** mediasoup-worker exits with 41 when run without MEDIASOUP_VERSION: proof that it loads and runs here. */
export function workerRunsHere(bin) {
  if (!existsSync(bin)) return false;
  const r = spawnSync(bin, [], { env: {}, stdio: 'ignore', timeout: 10_000 });
  return r.status === 41;
}

async function tryPrebuilt(target) {
  const pkg = JSON.parse(readFileSync(path.join(mediasoupPackageDir(), 'package.json'), 'utf8'));
  let name = `mediasoup-worker-${pkg.version}-${os.platform()}-${os.arch()}`;
  if (os.platform() === 'linux') name += `-kernel${Number(os.release().split('.')[0])}`;
  const base = process.env.MEDIASOUP_WORKER_PREBUILT_DOWNLOAD_BASE_URL
    || `${pkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, '')}/releases/download`;
  const url = `${base}/${pkg.version}/${name}.tgz`;
  log(`trying the prebuilt worker ${url}`);
  let res;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(20_000) });
  } catch (err) {
    log(`prebuilt worker not reachable (${err.cause?.code ?? err.message}); building from source`);
    return false;
  }
  if (!res.ok) {
    log(`prebuilt worker not available (${res.status}); building from source`);
    return false;
  }
  const tmp = path.join(path.dirname(target), 'prebuilt.tmp');
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeFileSync(path.join(tmp, 'worker.tgz'), Buffer.from(await res.arrayBuffer()));
  const tar = spawnSync('tar', ['xzf', 'worker.tgz'], { cwd: tmp, stdio: 'inherit' });
  const bin = path.join(tmp, 'mediasoup-worker');
  if (tar.status !== 0 || !workerRunsHere(bin)) {
    log('prebuilt worker does not run on this host; building from source');
    rmSync(tmp, { recursive: true, force: true });
    return false;
  }
  renameSync(bin, target);
  rmSync(tmp, { recursive: true, force: true });
  return true;
}

// ---------------------------------------------------------------------------
// Local meson subprojects wrapping Debian's libraries. Each provides exactly the
// variables worker/meson.build reads with get_variable(). link_whole needs a
// library target, so each also declares an empty static library.
const stubLib = (name) => `${name} = static_library('${name}_stub', 'stub.c')\n`;
const subprojects = {
  openssl: `project('openssl', 'c')
openssl_dep = dependency('openssl', version: '>=3.0')
${stubLib('libcrypto_lib')}${stubLib('libssl_lib')}`,
  libuv: `project('libuv', 'c')
libuv_dep = dependency('libuv')
${stubLib('libuv')}`,
  libsrtp3: `project('libsrtp3', 'c')
# Debian has libsrtp 2; include/srtp.h adapts the libsrtp 3 calls mediasoup makes.
libsrtp3_dep = declare_dependency(include_directories: include_directories('include'), dependencies: dependency('libsrtp2'))
${stubLib('libsrtp3')}`,
  usrsctp: `project('usrsctp', 'c')
usrsctp_dep = dependency('usrsctp')
${stubLib('usrsctp')}`,
  'abseil-cpp': `project('abseil-cpp', 'c')
absl_container_dep = dependency('absl_flat_hash_map')
absl_strings_dep = dependency('absl_strings')
absl_types_dep = declare_dependency(dependencies: [dependency('absl_optional'), dependency('absl_variant'), dependency('absl_span')])
${stubLib('absl_container_lib')}`,
  catch2: `project('catch2', 'c')
# The worker's own unit tests are not built here.
catch2_dep = declare_dependency()
`,
  flatbuffers: `project('flatbuffers', 'c')
flatbuffers_dep = dependency('flatbuffers')
${stubLib('flatbuffers_lib')}`,
};

// The options worker/meson.build passes to each subproject must be declared.
const subprojectOptions = {
  libuv: ['build_tests', 'build_benchmarks'].map((o) => `option('${o}', type: 'boolean', value: false)`),
  libsrtp3: [
    "option('crypto-library', type: 'string', value: 'openssl')",
    "option('crypto-library-kdf', type: 'string', value: 'disabled')",
    "option('tests', type: 'string', value: 'disabled')",
  ],
  usrsctp: ["option('sctp_build_programs', type: 'boolean', value: false)"],
};

// libsrtp 3 API (what mediasoup 3.19 calls) on top of libsrtp 2 (Debian 12).
const srtpAdapter = `// Generated by scripts/build-worker.mjs: libsrtp 3 calls on Debian's libsrtp 2.
#pragma once
#include <srtp2/srtp.h>
#include <cstddef>
#include <cstdint>
#include <cstring>

// Status codes libsrtp 3 added (values as in libsrtp 3).
constexpr srtp_err_status_t srtp_err_status_buffer_small = static_cast<srtp_err_status_t>(28);
constexpr srtp_err_status_t srtp_err_status_cryptex_err = static_cast<srtp_err_status_t>(29);

namespace srtp3_adapter {
using v2_fn = srtp_err_status_t (*)(srtp_t, void*, int*);
inline srtp_err_status_t copy_then(v2_fn fn, srtp_t ctx, const uint8_t* in, size_t in_len, uint8_t* out, size_t* out_len, size_t trailer) {
  if (*out_len < in_len + trailer) return srtp_err_status_buffer_small;
  if (out != in) std::memmove(out, in, in_len);
  int len = static_cast<int>(in_len);
  const srtp_err_status_t err = fn(ctx, out, &len);
  if (err == srtp_err_status_ok) *out_len = static_cast<size_t>(len);
  return err;
}
} // namespace srtp3_adapter

inline srtp_err_status_t srtp_protect(srtp_t ctx, const uint8_t* rtp, size_t rtp_len, uint8_t* srtp, size_t* srtp_len, size_t /*mki_index*/) {
  return srtp3_adapter::copy_then(::srtp_protect, ctx, rtp, rtp_len, srtp, srtp_len, SRTP_MAX_TRAILER_LEN);
}
inline srtp_err_status_t srtp_unprotect(srtp_t ctx, const uint8_t* srtp, size_t srtp_len, uint8_t* rtp, size_t* rtp_len) {
  return srtp3_adapter::copy_then(::srtp_unprotect, ctx, srtp, srtp_len, rtp, rtp_len, 0);
}
inline srtp_err_status_t srtp_protect_rtcp(srtp_t ctx, const uint8_t* rtcp, size_t rtcp_len, uint8_t* srtcp, size_t* srtcp_len, size_t /*mki_index*/) {
  return srtp3_adapter::copy_then(::srtp_protect_rtcp, ctx, rtcp, rtcp_len, srtcp, srtcp_len, SRTP_MAX_TRAILER_LEN + 4 /* SRTCP index */);
}
inline srtp_err_status_t srtp_unprotect_rtcp(srtp_t ctx, const uint8_t* srtcp, size_t srtcp_len, uint8_t* rtcp, size_t* rtcp_len) {
  return srtp3_adapter::copy_then(::srtp_unprotect_rtcp, ctx, srtcp, srtcp_len, rtcp, rtcp_len, 0);
}
inline srtp_err_status_t srtp_stream_remove(srtp_t session, uint32_t ssrc) {
  return srtp_remove_stream(session, ssrc);
}
`;

/** Replace one exact snippet in a worker source file, failing loudly if the source changed. */
function patchFile(file, from, to) {
  const text = readFileSync(file, 'utf8');
  if (!text.includes(from)) throw new Error(`build-worker: expected snippet not found in ${file}; mediasoup sources changed`);
  writeFileSync(file, text.replace(from, to));
}

function prepareSources(workerDir) {
  const sp = path.join(workerDir, 'subprojects');
  for (const f of readdirSync(sp)) rmSync(path.join(sp, f), { recursive: true, force: true });
  for (const [name, build] of Object.entries(subprojects)) {
    const dir = path.join(sp, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'meson.build'), build);
    if (subprojectOptions[name]) writeFileSync(path.join(dir, 'meson_options.txt'), subprojectOptions[name].join('\n') + '\n');
    writeFileSync(path.join(dir, 'stub.c'), 'int plea_stub_' + name.replace(/\W/g, '_') + '(void) { return 0; }\n');
  }
  mkdirSync(path.join(sp, 'libsrtp3', 'include'), { recursive: true });
  writeFileSync(path.join(sp, 'libsrtp3', 'include', 'srtp.h'), srtpAdapter);

  // With OpenSSL built with kTLS (Debian's), the BIO callback answering 1 to the
  // BIO_CTRL_GET_KTLS_SEND/RECV queries makes OpenSSL believe kTLS is on; it then
  // never allocates its DTLS write buffer and crashes in do_dtls1_write().
  const dtls = path.join(workerDir, 'src', 'RTC', 'DtlsTransport.cpp');
  patchFile(dtls, '  int /*argi*/,\n', '  int argi,\n');
  patchFile(
    dtls,
    '\tlong resultOfcallback = (operationType == BIO_CB_RETURN) ? static_cast<long>(ret) : 1;\n',
    '\tlong resultOfcallback = (operationType == BIO_CB_RETURN) ? static_cast<long>(ret) : 1;\n' +
      '\tif (operationType == (BIO_CB_CTRL | BIO_CB_RETURN) && (argi == BIO_CTRL_GET_KTLS_SEND || argi == BIO_CTRL_GET_KTLS_RECV))\n' +
      '\t{\n\t\treturn static_cast<long>(ret);\n\t}\n'
  );
}

function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let tail = '';
    const onData = (chunk) => {
      const text = chunk.toString();
      tail = (tail + text).slice(-8000);
      opts.onLine?.(text);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} failed (${code}):\n${tail}`))));
  });
}

function checkTools() {
  const missing = [];
  const meson = spawnSync(process.env.MESON || 'meson', ['--version'], { encoding: 'utf8' });
  const [maj, min] = (meson.stdout || '0.0').trim().split('.').map(Number);
  if (meson.status !== 0 || maj < 1 || (maj === 1 && min < 1)) missing.push('meson >= 1.1 (bookworm-backports)');
  if (spawnSync('ninja', ['--version']).status !== 0) missing.push('ninja-build');
  if (spawnSync('flatc', ['--version']).status !== 0) missing.push('flatbuffers-compiler');
  for (const lib of ['openssl', 'libuv', 'libsrtp2', 'usrsctp', 'flatbuffers', 'absl_flat_hash_map']) {
    if (spawnSync('pkg-config', ['--exists', lib]).status !== 0) missing.push(`pkg-config module ${lib}`);
  }
  if (missing.length) {
    throw new Error(`build-worker: missing build tools: ${missing.join(', ')}. Run "npm run setup" as root, or install them (see README).`);
  }
}

async function buildFromSource(target) {
  checkTools();
  const buildRoot = path.join(path.dirname(target), 'build');
  const workerDir = path.join(buildRoot, 'worker');
  rmSync(buildRoot, { recursive: true, force: true });
  mkdirSync(buildRoot, { recursive: true });
  cpSync(path.join(mediasoupPackageDir(), 'worker'), workerDir, { recursive: true });
  prepareSources(workerDir);
  const outDir = path.join(buildRoot, 'out');
  const meson = process.env.MESON || 'meson';
  log('configuring (meson)');
  const mesonArgs = (process.env.MESON_ARGS || '').split(/\s+/).filter(Boolean);
  await run(meson, ['setup', outDir, workerDir, '--buildtype=release', '-Db_ndebug=true', '-Dms_disable_liburing=true', ...mesonArgs]);
  log('generating flatbuffers code');
  await run(meson, ['compile', '-C', outDir, 'flatbuffers-generator']);
  const started = Date.now();
  let lastPercent = -1;
  let lastPrint = 0;
  await run(meson, ['compile', '-C', outDir, 'mediasoup-worker'], {
    onLine: (text) => {
      for (const m of text.matchAll(/\[(\d+)\/(\d+)\]\s*([^\n]*)/g)) {
        const [done, total] = [Number(m[1]), Number(m[2])];
        const percent = Math.floor((100 * done) / total);
        const now = Date.now();
        if (percent !== lastPercent && (now - lastPrint > 5000 || done === total)) {
          const elapsed = (now - started) / 1000;
          const eta = done > 0 ? Math.round((elapsed / done) * (total - done)) : 0;
          const what = m[3].replace(/^Compiling C\+\+ object .*?\.p\//, '').slice(0, 70);
          log(`${percent}% (${done}/${total}), ${Math.round(elapsed)} s elapsed, about ${eta} s left: ${what}`);
          lastPercent = percent;
          lastPrint = now;
        }
      }
    },
  });
  const built = path.join(outDir, 'mediasoup-worker');
  spawnSync('strip', [built]);
  renameSync(built, target);
  chmodSync(target, 0o755);
  rmSync(buildRoot, { recursive: true, force: true });
  log(`built in ${Math.round((Date.now() - started) / 1000)} s`);
}

export async function ensureWorker() {
  const version = mediasoupVersion();
  if (!version) throw new Error('build-worker: node_modules/mediasoup is missing; run npm ci first');
  const target = workerBinPath();
  if (workerRunsHere(target)) return target;
  mkdirSync(path.dirname(target), { recursive: true });
  log(`no cached worker for mediasoup ${version} at ${target}`);
  if (!(await tryPrebuilt(target))) await buildFromSource(target);
  if (!workerRunsHere(target)) throw new Error(`build-worker: ${target} does not run on this host`);
  log(`worker ready: ${target}`);
  return target;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  ensureWorker().then(
    (bin) => console.log(bin),
    (err) => {
      console.error(err.message);
      process.exit(1);
    }
  );
}
