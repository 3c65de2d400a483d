// ISO 9660 images with xorriso (Debian's 1.5.4): level 3 (files over 4 GiB as
// multi-extent), Joliet with long names (Chinese names for Windows), Rock Ridge
// (UTF-8 names and modes for everyone else). Deterministic: SOURCE_DATE_EPOCH
// fixes the volume dates and UUID, --set_all_file_dates fixes every file's
// dates, and the graft list is given in one order; so the same files give the
// same bytes.
//
// Speed: xorriso (libisofs) reads every file in 2 KiB blocks handed one by one
// through a locked ring buffer to libburn's writer thread: on these machines
// about a quarter of the speed of `cp`, which copies in the kernel
// (copy_file_range). So xorriso lays out the file system and writes its head
// (volume descriptors, path tables, ISO/Joliet/Rock Ridge directories: the
// bytes before the first file's data), which is read through a pipe and parsed
// (iso-layout.ts) for every file's extents; xorriso is then stopped, and `cat`
// (coreutils, copy_file_range) writes head, file contents and the zero padding
// between them in one pass; the zero tail is set by truncation. The result is
// byte for byte the image xorriso writes itself (test/disc-image.test.ts
// compares them); where the head holds anything unexpected, xorriso writes the
// whole image as before ('xorriso' method). The image's SHA-256 is read back
// from the written file.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, fstatSync, ftruncateSync, mkdirSync, openSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseIsoHead, SECTOR, type IsoExtent } from './iso-layout.js';

export interface IsoGraft {
  /** Path in the image, '/'-separated, relative. */
  discPath: string;
  /** Absolute path of the source file. */
  sourcePath: string;
}

export interface IsoOptions {
  grafts: readonly IsoGraft[];
  output: string;
  /** Seconds since the epoch used for every date in the image. */
  epoch: number;
  /** ISO 9660 volume id: up to 32 of A-Z 0-9 _. */
  volumeId: string;
  publisher?: string;
  xorriso?: string;
  onProgress?: (fraction: number) => void;
}

/** "xorriso : UPDATE :  25.44% done" (also with ", estimate finish …"). */
export function parseXorrisoProgress(line: string): number | null {
  const m = /UPDATE\s*:\s*([\d.]+)% done/.exec(line);
  return m ? Math.min(1, Number(m[1]) / 100) : null;
}

/** A graft point `disc/path=/source/path`, with '\' and '=' escaped as xorriso's pathspec wants. */
export function graftLine(g: IsoGraft): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/=/g, '\\=');
  if (/[\n\r]/.test(g.discPath + g.sourcePath)) throw new Error(`a file name with a line break cannot go on a disc: ${JSON.stringify(g.discPath)}`);
  return `/${esc(g.discPath)}=${esc(g.sourcePath)}`;
}

export function volumeIdFor(text: string): string {
  return text.toUpperCase().replace(/[^A-Z0-9_]/g, '_').slice(0, 32);
}

/** SHA-256 and size of a file, read in 4 MiB chunks. */
export async function hashFile(file: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 4 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

export interface BuiltIso {
  bytes: number;
  sha256: string;
  /** Writing the image (until its last byte is in the file). */
  writeMs: number;
  /** Reading it back for its SHA-256. */
  hashMs: number;
  /** 'kernel-copy': xorriso's head, contents by copy_file_range; 'xorriso': xorriso wrote it all. */
  method: 'kernel-copy' | 'xorriso';
  /** Why the kernel copy was not used, when it was not. */
  fallbackReason?: string;
}

/** The most head bytes read from xorriso before the layout is given up as unexpected. */
const MAX_HEAD_BYTES = 64 << 20;

export async function buildIso(o: IsoOptions & { method?: 'auto' | 'xorriso' }): Promise<BuiltIso> {
  const t0 = Date.now();
  const list = `${o.output}.graft-list`;
  const part = `${o.output}.part`;
  rmSync(part, { force: true });
  writeFileSync(list, o.grafts.map(graftLine).join('\n') + '\n');
  const args = [
    '-as', 'mkisofs', '-iso-level', '3', '-J', '-joliet-long', '-R',
    '-input-charset', 'UTF-8', '-output-charset', 'UTF-8',
    '--set_all_file_dates', `=${o.epoch}`,
    '-V', volumeIdFor(o.volumeId),
    ...(o.publisher ? ['-publisher', o.publisher.slice(0, 128)] : []),
    '-graft-points', '-path-list', list,
  ];
  const env = { ...process.env, SOURCE_DATE_EPOCH: String(o.epoch), LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' };
  const xorriso = o.xorriso ?? 'xorriso';
  try {
    let method: BuiltIso['method'] = 'kernel-copy';
    let fallbackReason: string | undefined;
    const fast = o.method === 'xorriso' ? { ok: false as const, why: 'asked for xorriso alone' } : await kernelCopyImage(xorriso, args, env, o, part);
    if (!fast.ok) {
      method = 'xorriso';
      fallbackReason = fast.why;
      rmSync(part, { force: true });
      await xorrisoImage(xorriso, ['-stdio_sync', 'off', ...args, '-o', part], env, o);
    }
    const written = Date.now();
    const { bytes, sha256 } = await hashFile(part);
    renameSync(part, o.output);
    o.onProgress?.(1);
    return { bytes, sha256, writeMs: written - t0, hashMs: Date.now() - written, method, ...(fallbackReason ? { fallbackReason } : {}) };
  } catch (err) {
    rmSync(part, { force: true });
    throw err;
  } finally {
    rmSync(list, { force: true });
  }
}

/** Collects xorriso's messages, passes its progress on, and explains a failure. */
function watchStderr(child: ChildProcess, onProgress?: (f: number) => void): () => string {
  const stderr: string[] = [];
  let pending = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      stderr.push(line);
      if (stderr.length > 200) stderr.shift();
      const p = parseXorrisoProgress(line);
      if (p !== null) onProgress?.(p);
    }
  });
  return () => stderr.filter((l) => /FAILURE|SORRY|FATAL|ABORT/i.test(l)).slice(-3).join('; ') || stderr.slice(-3).join('; ');
}

function exitOf(child: ChildProcess): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? -2 : -1)));
  });
}

/** xorriso writes the whole image file itself. */
async function xorrisoImage(xorriso: string, args: string[], env: NodeJS.ProcessEnv, o: IsoOptions): Promise<void> {
  const child = spawn(xorriso, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const why = watchStderr(child, o.onProgress);
  const code = await exitOf(child);
  if (code !== 0) throw new Error(`xorriso could not build ${o.output} (exit ${code}): ${why()}`);
}

/** Reads xorriso's image from its stdout until the head (everything before the first file's data) is parsed, then stops it. */
async function readHead(xorriso: string, args: string[], env: NodeJS.ProcessEnv, o: IsoOptions): Promise<{ ok: true; head: Buffer; volumeBytes: number; extents: IsoExtent[] } | { ok: false; why: string }> {
  const child = spawn(xorriso, [...args, '-o', '-'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const why = watchStderr(child);
  const exited = exitOf(child);
  const chunks: Buffer[] = [];
  let total = 0;
  let needBytes = 17 * SECTOR;
  let result: ReturnType<typeof parseIsoHead> | null = null;
  let stopped = false;
  await new Promise<void>((resolve) => {
    const done = () => {
      if (!stopped) {
        stopped = true;
        child.stdout?.removeAllListeners('data');
        child.stdout?.destroy();
        // It writes only to our pipe: nothing to tidy (on SIGTERM it waits a second for its burn thread).
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      resolve();
    };
    child.stdout?.on('data', (c: Buffer) => {
      if (stopped) return;
      chunks.push(c);
      total += c.length;
      if (total < needBytes) return;
      const r = parseIsoHead(Buffer.concat(chunks));
      if (r.status === 'more') { needBytes = r.needBytes; if (needBytes > MAX_HEAD_BYTES) { result = { status: 'unsupported', why: `the head would be over ${MAX_HEAD_BYTES} bytes` }; done(); } return; }
      result = r;
      done();
    });
    child.stdout?.on('end', done);
    child.on('error', done);
  });
  const code = await exited.catch(() => -1);
  const r = result as ReturnType<typeof parseIsoHead> | null;
  if (!r || r.status === 'more') {
    // xorriso ended before the head was complete: a real failure (missing file, bad name) is reported as one.
    if (code !== 0) throw new Error(`xorriso could not build ${o.output} (exit ${code}): ${why()}`);
    return { ok: false, why: 'xorriso\'s image ended before its head could be read' };
  }
  if (r.status === 'unsupported') return { ok: false, why: r.why };
  return { ok: true, head: Buffer.concat(chunks).subarray(0, r.headBytes), volumeBytes: r.volumeBytes, extents: r.extents };
}

async function kernelCopyImage(xorriso: string, args: string[], env: NodeJS.ProcessEnv, o: IsoOptions, part: string): Promise<{ ok: true } | { ok: false; why: string }> {
  const head = await readHead(xorriso, args, env, o);
  if (!head.ok) return head;
  // Every extent belongs to a grafted file, and every grafted file's extents cover it exactly, one after the other.
  const source = new Map(o.grafts.map((g) => [g.discPath.replace(/^\/+/, ''), g.sourcePath]));
  const byLba = [...head.extents].sort((a, b) => a.lba - b.lba);
  const runs: Array<{ start: number; bytes: number; sourcePath: string }> = [];
  const covered = new Map<string, number>();
  for (const x of byLba) {
    const src = source.get(x.discPath);
    if (src === undefined) return { ok: false, why: `${x.discPath} in the image is not in the graft list` };
    const last = runs.at(-1);
    const at = x.lba * SECTOR;
    if (last && last.sourcePath === src && last.start + last.bytes === at && (covered.get(x.discPath) ?? 0) === x.fileOffset) {
      last.bytes += x.bytes; // the next extent of a file over 4 GiB
    } else {
      if (x.fileOffset !== 0) return { ok: false, why: `the extents of ${x.discPath} are not in order` };
      if (last && at < last.start + last.bytes) return { ok: false, why: `file data of ${x.discPath} overlaps the file before it` };
      if (covered.has(x.discPath)) return { ok: false, why: `${x.discPath} has its data twice` };
      runs.push({ start: at, bytes: x.bytes, sourcePath: src });
    }
    covered.set(x.discPath, x.fileOffset + x.bytes);
  }
  for (const [discPath, src] of source) {
    const size = statSync(src).size;
    if ((covered.get(discPath) ?? 0) !== size) return { ok: false, why: `${discPath}: ${size} bytes, but the image holds ${covered.get(discPath) ?? 0}` };
  }
  const end = runs.length ? runs.at(-1)!.start + runs.at(-1)!.bytes : head.head.length;
  if (end > head.volumeBytes) return { ok: false, why: 'file data beyond the volume' };

  // head, file, zeros to the next file's block, file, …; then the zero tail by truncation.
  const pieces = `${o.output}.pieces`;
  rmSync(pieces, { recursive: true, force: true });
  mkdirSync(pieces, { recursive: true });
  try {
    const headFile = path.join(pieces, 'head');
    writeFileSync(headFile, head.head);
    const pads = new Map<number, string>();
    const pad = (n: number) => {
      let p = pads.get(n);
      if (!p) { p = path.join(pieces, `zeros-${n}`); writeFileSync(p, ''); truncateSync(p, n); pads.set(n, p); }
      return p;
    };
    const catArgs = [headFile];
    let pos = head.head.length;
    for (const r of runs) {
      if (r.start > pos) catArgs.push(pad(r.start - pos));
      catArgs.push(r.sourcePath);
      pos = r.start + r.bytes;
    }
    const fd = openSync(part, 'w');
    try {
      const child = spawn('cat', ['--', ...catArgs], { stdio: ['ignore', fd, 'pipe'] });
      let err = '';
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (c: string) => { err = (err + c).slice(-2000); });
      const tick = setInterval(() => { try { o.onProgress?.(Math.min(0.99, fstatSync(fd).size / head.volumeBytes)); } catch { /* closed */ } }, 250);
      const code = await exitOf(child).finally(() => clearInterval(tick));
      if (code !== 0) throw new Error(`cat could not write ${o.output} (exit ${code}): ${err.trim()}`);
      if (fstatSync(fd).size !== pos) throw new Error(`${o.output}: ${fstatSync(fd).size} bytes written, ${pos} expected`);
      ftruncateSync(fd, head.volumeBytes);
    } finally {
      closeSync(fd);
    }
    return { ok: true };
  } finally {
    rmSync(pieces, { recursive: true, force: true });
  }
}
