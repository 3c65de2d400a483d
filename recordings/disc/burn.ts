// Burning a disc image to a drive with xorriso's cdrecord emulation, then
// reading the disc back and verifying it. A drive is a device path
// (/dev/sr0) or xorriso's `stdio:/path/file` pseudo-drive, which runs the same
// burn path onto a file (used in tests and for sites that archive to files).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { verifyDisc, type VerifyReport } from './verify.js';

export class NoDriveError extends Error {}

export interface BurnProgress {
  step: 'writing' | 'reading_back' | 'verifying';
  fraction: number;
}

export interface BurnOptions {
  image: string;
  /** '/dev/sr0' or 'stdio:/path/file'. */
  device: string;
  trustedFingerprint?: string;
  xorriso?: string;
  bsdtar?: string;
  onProgress?: (p: BurnProgress) => void;
}

export interface BurnResult {
  device: string;
  imageBytes: number;
  imageSha256: string;
  /** SHA-256 of the first imageBytes bytes read back from the disc. */
  readBackSha256: string;
  identical: boolean;
  verify: VerifyReport;
}

/** What to read back: the file behind a stdio: pseudo-drive, or the device itself. */
export function readPathOf(device: string): string {
  return device.startsWith('stdio:') ? device.slice('stdio:'.length) : device;
}

/** A drive that is not there is said clearly, before anything is started. */
export function checkDrive(device: string): void {
  if (device.startsWith('stdio:')) {
    if (!device.slice(6).startsWith('/')) throw new NoDriveError(`pseudo-drive ${device} must name an absolute file path`);
    return;
  }
  if (!existsSync(device)) throw new NoDriveError(`no optical drive is attached at ${device}`);
  const s = statSync(device);
  if (!s.isBlockDevice() && !s.isCharacterDevice()) throw new NoDriveError(`${device} is not a drive`);
}

/** "xorriso : UPDATE :   86 of  286 MB written (fifo  0%) …" → 86/286. */
export function parseBurnProgress(line: string): number | null {
  const m = /UPDATE\s*:\s*(\d+)\s+of\s+(\d+)\s+MB written/.exec(line);
  if (!m) return null;
  const total = Number(m[2]);
  return total > 0 ? Math.min(1, Number(m[1]) / total) : null;
}

async function hashPrefix(file: string, bytes: number, onProgress?: (f: number) => void): Promise<string> {
  const hash = createHash('sha256');
  let seen = 0;
  if (bytes === 0) return hash.digest('hex');
  for await (const chunk of createReadStream(file, { start: 0, end: bytes - 1, highWaterMark: 4 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    seen += chunk.length;
    onProgress?.(seen / bytes);
  }
  if (seen !== bytes) throw new Error(`read back only ${seen} of ${bytes} bytes from ${file}`);
  return hash.digest('hex');
}

async function write(o: BurnOptions): Promise<void> {
  const child = spawn(o.xorriso ?? 'xorriso', ['-as', 'cdrecord', '-v', `dev=${o.device}`, o.image], { stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  let pending = '';
  const onData = (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      tail.push(line);
      if (tail.length > 50) tail.shift();
      const p = parseBurnProgress(line);
      if (p !== null) o.onProgress?.({ step: 'writing', fraction: p });
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? -1));
  });
  if (code !== 0) {
    const why = tail.filter((l) => /FAILURE|SORRY|FATAL|ABORT/i.test(l)).slice(-3).join('; ') || tail.slice(-3).join('; ');
    throw new Error(`burning to ${o.device} failed (xorriso exit ${code}): ${why}`);
  }
}

export async function burnImage(o: BurnOptions, imageSha256: string): Promise<BurnResult> {
  checkDrive(o.device);
  const imageBytes = statSync(o.image).size;
  o.onProgress?.({ step: 'writing', fraction: 0 });
  await write(o);
  o.onProgress?.({ step: 'writing', fraction: 1 });
  const readPath = readPathOf(o.device);
  const readBackSha256 = await hashPrefix(readPath, imageBytes, (f) => o.onProgress?.({ step: 'reading_back', fraction: f }));
  const verify = await verifyDisc(readPath, {
    ...(o.trustedFingerprint ? { trustedFingerprint: o.trustedFingerprint } : {}),
    ...(o.bsdtar ? { bsdtar: o.bsdtar } : {}),
    onProgress: (read) => o.onProgress?.({ step: 'verifying', fraction: Math.min(1, read / Math.max(1, imageBytes)) }),
  });
  return { device: o.device, imageBytes, imageSha256, readBackSha256, identical: readBackSha256 === imageSha256, verify };
}
