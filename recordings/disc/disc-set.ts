// Builds a booking's disc set: plans the discs, writes each disc's own files
// (note HTML and PDF, signed manifest, SHA256SUMS, guide, index page, public
// key) into a staging directory, and has xorriso make one image per disc with
// the recordings grafted from where they lie (never copied first).
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BundleFile, EvidenceBundle } from './bundle.js';
import type { EvidenceKey } from './evidence-key.js';
import { buildIso, type IsoGraft } from './iso.js';
import { mediumLabel, planDiscs, type Medium, type PlannedFile } from './media.js';
import { NOTE_HTML, NOTE_PDF, notePdf, renderNoteHtml } from './note.js';
import {
  GUIDE, guideText, INDEX, indexHtml, MANIFEST, MANIFEST_FORMAT, manifestBooking, manifestBytes, PUBLIC_KEY, recordingEntry,
  sha256Hex, sha256sums, SIGNATURE, SUMS, type Manifest, type ManifestFile, type SplitFile,
} from './disc-files.js';

export interface DiscSetOptions {
  /** Where the images go (and their staging directories). */
  outDir: string;
  medium: Medium;
  /** Bytes kept free on every disc for its own files and file-system tables. */
  reserveBytes: number;
  key: EvidenceKey;
  chromiumPath: string;
  /** Where printed note PDFs are stored for reuse. */
  noteStoreDir: string;
  xorriso?: string;
  onProgress?: (p: BuildProgress) => void;
}

export interface BuildProgress {
  step: 'note' | 'image';
  disc: number;
  discCount: number;
  /** 0..1 over the whole set. */
  fraction: number;
}

export interface BuiltDisc {
  number: number;
  count: number;
  imagePath: string;
  bytes: number;
  sha256: string;
  volumeId: string;
  manifestSha256: string;
  files: Array<{ path: string; bytes: number; sha256: string }>;
}

export function imageFileName(bookingId: string, n: number, count: number): string {
  return `${bookingId}-disc${n}of${count}.iso`;
}

/** The instant every date on the disc is set to: the end of the recording (so rebuilds agree). */
export function discEpoch(b: EvidenceBundle): number {
  return Math.floor(Date.parse(b.recording.endedAt) / 1000);
}

/** SHA-256 of a byte range of a file; with `to`, the range is also written there. */
async function hashRange(file: string, start: number, bytes: number, to?: string): Promise<string> {
  const hash = createHash('sha256');
  const tap = new Transform({ transform(chunk: Buffer, _e, cb) { hash.update(chunk); cb(null, chunk); } });
  const source = createReadStream(file, { start, end: start + bytes - 1, highWaterMark: 4 << 20 });
  if (to) await pipeline(source, tap, createWriteStream(to, { flags: 'wx' }));
  else for await (const chunk of source.pipe(tap) as AsyncIterable<Buffer>) void chunk;
  return hash.digest('hex');
}

export async function buildDiscSet(b: EvidenceBundle, o: DiscSetOptions): Promise<BuiltDisc[]> {
  const plan = planDiscs(b.files, o.medium, o.reserveBytes);
  const count = plan.length;
  const discOf = new Map<string, number>();
  plan.forEach((files, i) => files.forEach((f) => discOf.set(f.part ? f.part.whole.discPath : f.discPath, i + 1)));
  // Files larger than one disc: every part's SHA-256 first, since every disc's manifest lists the whole set.
  const splits = new Map<string, SplitFile>();
  for (const [i, files] of plan.entries()) {
    for (const f of files) {
      if (!f.part) continue;
      f.sha256 = await hashRange(f.sourcePath, f.part.offset, f.bytes);
      const w = f.part.whole;
      const split = splits.get(w.discPath) ?? { path: w.discPath, bytes: w.bytes, sha256: w.sha256, parts: [] };
      split.parts.push({ path: f.discPath, disc: i + 1, bytes: f.bytes, sha256: f.sha256 });
      splits.set(w.discPath, split);
    }
  }
  const splitFiles = [...splits.values()];
  const partDiscs = new Map(splitFiles.map((x) => [x.path, x.parts.map((p) => p.disc)]));
  const epoch = discEpoch(b);
  const totalBytes = b.files.reduce((s, f) => s + f.bytes, 0) || 1;
  const progress = (p: Omit<BuildProgress, 'discCount'>) => o.onProgress?.({ ...p, discCount: count });

  progress({ step: 'note', disc: 0, fraction: 0 });
  const noteHtml = renderNoteHtml(b, { discOf, partDiscs, discCount: count, mediumLabel: mediumLabel(o.medium), fingerprint: o.key.fingerprint });
  const { pdf } = await notePdf(noteHtml, o.noteStoreDir, new Date(epoch * 1000), o.chromiumPath);
  const set = plan.flatMap((files, i) => files.map((f) => ({ path: f.discPath, disc: i + 1, bytes: f.bytes, sha256: f.sha256 })))
    .sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));

  mkdirSync(o.outDir, { recursive: true });
  const built: BuiltDisc[] = [];
  let doneBytes = 0;
  for (let i = 0; i < count; i++) {
    const n = i + 1;
    const planned = plan[i] as PlannedFile[];
    const stage = path.join(o.outDir, `${b.bookingId}-disc${n}of${count}.stage`);
    rmSync(stage, { recursive: true, force: true });
    mkdirSync(stage, { recursive: true });
    // This disc's parts of files larger than a disc are cut into the staging directory (checked against their planned hash).
    const files: PlannedFile[] = [];
    for (const [k, f] of planned.entries()) {
      if (!f.part) { files.push(f); continue; }
      const cut = path.join(stage, `part-${k}`);
      const sha = await hashRange(f.sourcePath, f.part.offset, f.bytes, cut);
      if (sha !== f.sha256) throw new Error(`${f.part.whole.discPath} changed while its parts were cut (part ${f.part.n}: ${sha} ≠ ${f.sha256})`);
      files.push({ ...f, sourcePath: cut });
    }
    const own: Array<{ name: string; data: Buffer; kind: ManifestFile['kind'] }> = [
      { name: NOTE_HTML, data: Buffer.from(noteHtml, 'utf8'), kind: 'note' },
      { name: NOTE_PDF, data: pdf, kind: 'note' },
      { name: GUIDE, data: Buffer.from(guideText(o.key.fingerprint, splitFiles), 'utf8'), kind: 'guide' },
      { name: INDEX, data: Buffer.from(indexHtml(b, n, count, files), 'utf8'), kind: 'index' },
      { name: PUBLIC_KEY, data: Buffer.from(o.key.publicKeyPem, 'utf8'), kind: 'key' },
    ];
    const entries: ManifestFile[] = [
      ...own.map((f) => ({ path: f.name, bytes: f.data.length, sha256: sha256Hex(f.data), kind: f.kind })),
      ...files.map((f) => ({
        ...recordingEntry(f),
        ...(f.part ? { partOf: { path: f.part.whole.discPath, bytes: f.part.whole.bytes, sha256: f.part.whole.sha256, part: f.part.n, parts: f.part.of } } : {}),
      })),
    ];
    const sums = sha256sums(entries);
    const volumeId = `PLEA_${b.bookingId}_${n}_${count}`;
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      booking: manifestBooking(b),
      disc: { number: n, count, medium: o.medium.name, volumeId },
      signingKey: { algorithm: 'Ed25519', publicKeyFile: PUBLIC_KEY, fingerprintSha256: o.key.fingerprint, signatureFile: SIGNATURE },
      files: entries,
      sha256sumsSha256: sha256Hex(sums),
      set,
      splitFiles,
    };
    const mBytes = manifestBytes(manifest);
    own.push(
      { name: MANIFEST, data: mBytes, kind: 'note' },
      { name: SIGNATURE, data: o.key.sign(mBytes), kind: 'note' },
      { name: SUMS, data: Buffer.from(sums, 'utf8'), kind: 'note' }
    );
    const grafts: IsoGraft[] = [];
    for (const f of own) {
      const p = path.join(stage, f.name);
      writeFileSync(p, f.data);
      grafts.push({ discPath: f.name, sourcePath: p });
    }
    for (const f of files) grafts.push({ discPath: f.discPath, sourcePath: f.sourcePath });
    const discBytes = files.reduce((s, f) => s + f.bytes, 0);
    const imagePath = path.join(o.outDir, imageFileName(b.bookingId, n, count));
    const image = await buildIso({
      grafts, output: imagePath, epoch, volumeId, publisher: b.siteName, ...(o.xorriso ? { xorriso: o.xorriso } : {}),
      onProgress: (f) => progress({ step: 'image', disc: n, fraction: (doneBytes + f * discBytes) / totalBytes }),
    });
    rmSync(stage, { recursive: true, force: true });
    if (image.bytes > o.medium.bytes) {
      throw new Error(`disc ${n} of ${count} came out at ${image.bytes} bytes, more than the ${o.medium.name} medium holds (${o.medium.bytes}); raise evidence.discReserveBytes`);
    }
    doneBytes += discBytes;
    built.push({
      number: n, count, imagePath, bytes: image.bytes, sha256: image.sha256, volumeId, manifestSha256: sha256Hex(mBytes),
      files: [...entries, ...own.slice(-3).map((f) => ({ path: f.name, bytes: f.data.length, sha256: sha256Hex(f.data), kind: 'note' as const }))].map(
        ({ path: p, bytes, sha256 }) => ({ path: p, bytes, sha256 })
      ),
    });
  }
  progress({ step: 'image', disc: count, fraction: 1 });
  return built;
}
