// Verifies a disc image file, or a disc in a drive, against its own signed
// manifest, file by file, without mounting: bsdtar reads the ISO 9660 / Rock
// Ridge file system and streams every file as tar, which is hashed on the fly.
// Every failing file is named; so is a bad signature, a key that is not the
// site's, and a file that the manifest does not list.
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { verifySignature } from './evidence-key.js';
import { MANIFEST, MANIFEST_FORMAT, SELF_FILES, sha256Hex, SIGNATURE, SUMS, type Manifest } from './disc-files.js';
import { readTar, type TarFile } from './tar-stream.js';

export type FileProblem = 'ok' | 'hash_mismatch' | 'size_mismatch' | 'missing' | 'not_in_manifest' | 'sums_mismatch';

export interface FileCheck {
  path: string;
  status: FileProblem;
  expectedSha256?: string;
  actualSha256?: string;
}

export interface VerifyReport {
  ok: boolean;
  source: string;
  bookingId: string | null;
  caseNumber: string | null;
  disc: { number: number; count: number } | null;
  signature: 'valid' | 'invalid' | 'missing';
  /** SHA-256 fingerprint of the key the disc carries. */
  keyFingerprint: string | null;
  /** Whether that key is the site's (null: no trusted fingerprint given). */
  keyTrusted: boolean | null;
  files: FileCheck[];
  /** One line per problem, naming the file where there is one. */
  problems: string[];
  bytesRead: number;
}

export interface VerifyOptions {
  trustedFingerprint?: string;
  bsdtar?: string;
  onProgress?: (bytesRead: number, totalBytes: number | null) => void;
}

const KEEP_SMALL = 16 << 20;

function sizeOf(source: string): number | null {
  try {
    const s = statSync(source);
    return s.isFile() ? s.size : null;
  } catch {
    return null;
  }
}

/** Runs bsdtar to turn the ISO file system at `source` into a tar stream, counting bytes read. */
async function scan(source: string, o: VerifyOptions): Promise<{ files: Map<string, TarFile>; error: string | null; bytesRead: number }> {
  const files = new Map<string, TarFile>();
  const total = sizeOf(source);
  const child = spawn(o.bsdtar ?? 'bsdtar', ['-c', '-f', '-', '--format', 'pax', `@${source}`], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' } });
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => { err = (err + d).slice(-2000); });
  const exited = new Promise<number>((resolve) => {
    child.on('error', (e) => { err += e.message; resolve(-1); });
    child.on('close', (code) => resolve(code ?? -1));
  });
  let bytesRead = 0;
  let lastTick = 0;
  const counted = child.stdout as Readable;
  counted.on('data', (c: Buffer) => {
    bytesRead += c.length;
    const now = Date.now();
    if (now - lastTick > 250) { lastTick = now; o.onProgress?.(bytesRead, total); }
  });
  let parseError: string | null = null;
  try {
    await readTar(counted, KEEP_SMALL, (f) => files.set(f.path, f));
  } catch (e) {
    parseError = (e as Error).message;
  }
  const code = await exited;
  o.onProgress?.(bytesRead, total);
  const error = code !== 0 ? `cannot read ${source}: ${err.trim() || `bsdtar exit ${code}`}` : parseError;
  return { files, error, bytesRead };
}

export async function verifyDisc(source: string, o: VerifyOptions = {}): Promise<VerifyReport> {
  const report: VerifyReport = {
    ok: false, source, bookingId: null, caseNumber: null, disc: null, signature: 'missing', keyFingerprint: null, keyTrusted: null,
    files: [], problems: [], bytesRead: 0,
  };
  const { files, error, bytesRead } = await scan(source, o);
  report.bytesRead = bytesRead;
  if (error) report.problems.push(error);
  const manifestFile = files.get(MANIFEST);
  if (!manifestFile?.content) {
    report.problems.push(`${MANIFEST}: missing from the disc`);
    return report;
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(manifestFile.content.toString('utf8')) as Manifest;
    if (manifest.format !== MANIFEST_FORMAT || !Array.isArray(manifest.files)) throw new Error(`not a ${MANIFEST_FORMAT} manifest`);
  } catch (e) {
    report.problems.push(`${MANIFEST}: unreadable (${(e as Error).message})`);
    return report;
  }
  report.bookingId = typeof manifest.booking?.id === 'string' ? manifest.booking.id : null;
  report.caseNumber = typeof manifest.booking?.caseNumber === 'string' ? manifest.booking.caseNumber : null;
  report.disc = manifest.disc ? { number: manifest.disc.number, count: manifest.disc.count } : null;

  // Signature over the manifest's exact bytes, with the key the disc carries.
  const sig = files.get(SIGNATURE)?.content;
  const keyPath = typeof manifest.signingKey?.publicKeyFile === 'string' ? manifest.signingKey.publicKeyFile : '';
  const pem = files.get(keyPath)?.content;
  if (!sig) report.problems.push(`${SIGNATURE}: missing from the disc`);
  else if (!pem) report.problems.push(`${keyPath || 'public key'}: missing from the disc`);
  else {
    const v = verifySignature(pem.toString('utf8'), manifestFile.content, sig);
    report.signature = v.ok ? 'valid' : 'invalid';
    report.keyFingerprint = v.fingerprint;
    if (!v.ok) report.problems.push(`${MANIFEST}: the signature does not verify: the manifest was changed after signing, or signed by another key`);
  }
  if (o.trustedFingerprint) {
    report.keyTrusted = report.keyFingerprint === o.trustedFingerprint;
    if (!report.keyTrusted) report.problems.push(`${keyPath}: the disc was signed by key ${report.keyFingerprint ?? '(none)'}, not by this site's evidence key ${o.trustedFingerprint}`);
  }

  // Every file the manifest lists, then every file it does not.
  const listed = new Set<string>();
  for (const m of manifest.files) {
    listed.add(m.path);
    const f = files.get(m.path);
    if (!f) {
      report.files.push({ path: m.path, status: 'missing', expectedSha256: m.sha256 });
      report.problems.push(`${m.path}: missing from the disc`);
    } else if (f.bytes !== m.bytes) {
      report.files.push({ path: m.path, status: 'size_mismatch', expectedSha256: m.sha256, actualSha256: f.sha256 });
      report.problems.push(`${m.path}: ${f.bytes} bytes, the manifest says ${m.bytes}`);
    } else if (f.sha256 !== m.sha256) {
      report.files.push({ path: m.path, status: 'hash_mismatch', expectedSha256: m.sha256, actualSha256: f.sha256 });
      report.problems.push(`${m.path}: SHA-256 ${f.sha256} does not match the manifest's ${m.sha256}`);
    } else report.files.push({ path: m.path, status: 'ok', expectedSha256: m.sha256, actualSha256: f.sha256 });
  }
  for (const p of files.keys()) {
    if (!listed.has(p) && !SELF_FILES.has(p)) {
      report.files.push({ path: p, status: 'not_in_manifest' });
      report.problems.push(`${p}: on the disc but not in the manifest`);
    }
  }

  // SHA256SUMS (what a court checks with sha256sum -c) must be the one the manifest names.
  const sums = files.get(SUMS)?.content;
  if (!sums) report.problems.push(`${SUMS}: missing from the disc`);
  else if (sha256Hex(sums) !== manifest.sha256sumsSha256) {
    report.files.push({ path: SUMS, status: 'sums_mismatch' });
    report.problems.push(`${SUMS}: not the file the manifest names (its SHA-256 differs)`);
  }
  report.ok = report.problems.length === 0;
  return report;
}
