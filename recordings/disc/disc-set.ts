// Builds a booking's disc set: plans the discs, writes each disc's own files
// (note HTML and PDF, signed manifest, SHA256SUMS, guide, index page, public
// key) into a staging directory, and has xorriso make one image per disc with
// the recordings grafted from where they lie (never copied first).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BundleFile, EvidenceBundle } from './bundle.js';
import type { EvidenceKey } from './evidence-key.js';
import { buildIso, type IsoGraft } from './iso.js';
import { mediumLabel, planDiscs, type Medium } from './media.js';
import { NOTE_HTML, NOTE_PDF, notePdf, renderNoteHtml } from './note.js';
import {
  GUIDE, guideText, INDEX, indexHtml, MANIFEST, MANIFEST_FORMAT, manifestBooking, manifestBytes, PUBLIC_KEY, recordingEntry,
  sha256Hex, sha256sums, SIGNATURE, SUMS, type Manifest, type ManifestFile,
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

export async function buildDiscSet(b: EvidenceBundle, o: DiscSetOptions): Promise<BuiltDisc[]> {
  const plan = planDiscs(b.files, o.medium, o.reserveBytes);
  const count = plan.length;
  const discOf = new Map<string, number>();
  plan.forEach((files, i) => files.forEach((f) => discOf.set(f.discPath, i + 1)));
  const epoch = discEpoch(b);
  const totalBytes = b.files.reduce((s, f) => s + f.bytes, 0) || 1;
  const progress = (p: Omit<BuildProgress, 'discCount'>) => o.onProgress?.({ ...p, discCount: count });

  progress({ step: 'note', disc: 0, fraction: 0 });
  const noteHtml = renderNoteHtml(b, { discOf, discCount: count, mediumLabel: mediumLabel(o.medium), fingerprint: o.key.fingerprint });
  const { pdf } = await notePdf(noteHtml, o.noteStoreDir, new Date(epoch * 1000), o.chromiumPath);
  const set = b.files.map((f) => ({ path: f.discPath, disc: discOf.get(f.discPath) ?? 0, bytes: f.bytes, sha256: f.sha256 }));

  mkdirSync(o.outDir, { recursive: true });
  const built: BuiltDisc[] = [];
  let doneBytes = 0;
  for (let i = 0; i < count; i++) {
    const n = i + 1;
    const files = plan[i] as BundleFile[];
    const stage = path.join(o.outDir, `${b.bookingId}-disc${n}of${count}.stage`);
    rmSync(stage, { recursive: true, force: true });
    mkdirSync(stage, { recursive: true });
    const own: Array<{ name: string; data: Buffer; kind: ManifestFile['kind'] }> = [
      { name: NOTE_HTML, data: Buffer.from(noteHtml, 'utf8'), kind: 'note' },
      { name: NOTE_PDF, data: pdf, kind: 'note' },
      { name: GUIDE, data: Buffer.from(guideText(o.key.fingerprint), 'utf8'), kind: 'guide' },
      { name: INDEX, data: Buffer.from(indexHtml(b, n, count, files), 'utf8'), kind: 'index' },
      { name: PUBLIC_KEY, data: Buffer.from(o.key.publicKeyPem, 'utf8'), kind: 'key' },
    ];
    const entries: ManifestFile[] = [
      ...own.map((f) => ({ path: f.name, bytes: f.data.length, sha256: sha256Hex(f.data), kind: f.kind })),
      ...files.map(recordingEntry),
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
