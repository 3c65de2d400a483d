// ISO 9660 images with xorriso (Debian's 1.5.4): level 3 (files over 4 GiB as
// multi-extent), Joliet with long names (Chinese names for Windows), Rock Ridge
// (UTF-8 names and modes for everyone else). Deterministic: SOURCE_DATE_EPOCH
// fixes the volume dates and UUID, --set_all_file_dates fixes every file's
// dates, and the graft list is given in one order; so the same files give the
// same bytes. xorriso writes the image file itself (no per-16-MiB fsync of its
// stdio pseudo-drive); its SHA-256 is then read back from the written file.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, renameSync, rmSync, writeFileSync } from 'node:fs';

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

export async function buildIso(o: IsoOptions): Promise<{ bytes: number; sha256: string; writeMs: number; hashMs: number }> {
  const t0 = Date.now();
  const list = `${o.output}.graft-list`;
  const part = `${o.output}.part`;
  rmSync(part, { force: true });
  writeFileSync(list, o.grafts.map(graftLine).join('\n') + '\n');
  const args = [
    '-stdio_sync', 'off',
    '-as', 'mkisofs', '-iso-level', '3', '-J', '-joliet-long', '-R',
    '-input-charset', 'UTF-8', '-output-charset', 'UTF-8',
    '--set_all_file_dates', `=${o.epoch}`,
    '-V', volumeIdFor(o.volumeId),
    ...(o.publisher ? ['-publisher', o.publisher.slice(0, 128)] : []),
    '-graft-points', '-path-list', list, '-o', part,
  ];
  const child = spawn(o.xorriso ?? 'xorriso', args, {
    env: { ...process.env, SOURCE_DATE_EPOCH: String(o.epoch), LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const stderr: string[] = [];
  let pending = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      stderr.push(line);
      if (stderr.length > 200) stderr.shift();
      const p = parseXorrisoProgress(line);
      if (p !== null) o.onProgress?.(p);
    }
  });
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? -1));
  });
  try {
    const code = await exited;
    if (code !== 0) {
      const why = stderr.filter((l) => /FAILURE|SORRY|FATAL|ABORT/i.test(l)).slice(-3).join('; ') || stderr.slice(-3).join('; ');
      throw new Error(`xorriso could not build ${o.output} (exit ${code}): ${why}`);
    }
    const written = Date.now();
    const { bytes, sha256 } = await hashFile(part);
    renameSync(part, o.output);
    o.onProgress?.(1);
    return { bytes, sha256, writeMs: written - t0, hashMs: Date.now() - written };
  } catch (err) {
    rmSync(part, { force: true });
    throw err;
  } finally {
    rmSync(list, { force: true });
  }
}
