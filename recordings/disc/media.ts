// Disc media and how a booking's files are shared out over numbered discs.
import type { BundleFile } from './bundle.js';

export interface Medium {
  /** Config name: 'cd', 'dvd', 'bd' or a site's own. */
  name: string;
  /** Usable bytes of one disc. */
  bytes: number;
}

/** Sizes of the standard media (user data area of a single-layer disc). */
export const STANDARD_MEDIA: Readonly<Record<string, number>> = {
  cd: 360_000 * 2048, // 80-minute CD-R: 703 MiB
  dvd: 2_295_104 * 2048, // DVD±R single layer: 4.7 GB
  bd: 12_219_392 * 2048, // BD-R single layer: 25 GB
};

export function mediumLabel(m: Medium): string {
  const std: Readonly<Record<string, string>> = { cd: 'CD-R', dvd: 'DVD±R', bd: 'BD-R' };
  return Object.hasOwn(std, m.name) ? (std[m.name] as string) : m.name;
}

const SECTOR = 2048;
const sectors = (bytes: number) => Math.ceil(bytes / SECTOR) * SECTOR;

/** ISO 9660 + Joliet + Rock Ridge directory records and path tables: a generous per-file allowance. */
export const PER_FILE_OVERHEAD = 3 * SECTOR;

export class DiscPlanError extends Error {}

/** One part of a file larger than one disc: `<path>.001`, `<path>.002`, … rejoined with `cat` or `copy /b`. */
export interface FilePart {
  /** 1-based. */
  n: number;
  of: number;
  /** Where in the whole file this part begins. */
  offset: number;
  whole: BundleFile;
}

/** A file as planned onto a disc: a whole recorded file, or one part of one (then discPath and bytes are the part's, sha256 '' until cut). */
export interface PlannedFile extends BundleFile {
  part?: FilePart;
}

export function partPath(discPath: string, n: number): string {
  return `${discPath}.${String(n).padStart(3, '0')}`;
}

/** How a file larger than `room` is cut: parts of whole sectors, each filling a disc, the last the rest. */
export function partsOf(f: BundleFile, room: number): PlannedFile[] {
  const partBytes = Math.floor((room - PER_FILE_OVERHEAD) / SECTOR) * SECTOR;
  if (partBytes < SECTOR) throw new DiscPlanError(`the discs leave no room to carry ${f.discPath} in parts`);
  const of = Math.ceil(f.bytes / partBytes);
  if (of > 999) throw new DiscPlanError(`${f.discPath} (${f.bytes} bytes) would need ${of} discs: choose a larger medium`);
  return Array.from({ length: of }, (_, i) => {
    const offset = i * partBytes;
    return { ...f, discPath: partPath(f.discPath, i + 1), bytes: Math.min(partBytes, f.bytes - offset), sha256: '', part: { n: i + 1, of, offset, whole: f } };
  });
}

/**
 * Shares the recorded files out over discs in their order, each file on the
 * first disc it fits (so discs stay roughly chronological), keeping `reserve`
 * bytes per disc for the note, manifest, guide, index and file-system tables.
 * A single file larger than a disc is cut into numbered parts (partsOf), each
 * on its own disc, the last one sharing a disc with what follows.
 */
export function planDiscs(files: readonly BundleFile[], medium: Medium, reserve: number): PlannedFile[][] {
  const room = medium.bytes - reserve;
  if (room <= 0) throw new DiscPlanError(`medium ${medium.name} (${medium.bytes} bytes) is smaller than the disc's own files (${reserve} bytes)`);
  const discs: Array<{ free: number; files: PlannedFile[] }> = [];
  const place = (f: PlannedFile) => {
    const need = sectors(f.bytes) + PER_FILE_OVERHEAD;
    // A file's parts go on consecutive discs, in order.
    let disc = f.part ? [discs.at(-1)].find((d) => d && d.free >= need) : discs.find((d) => d.free >= need);
    if (!disc) {
      disc = { free: room, files: [] };
      discs.push(disc);
    }
    disc.files.push(f);
    disc.free -= need;
  };
  for (const f of files) {
    if (sectors(f.bytes) + PER_FILE_OVERHEAD > room) for (const p of partsOf(f, room)) place(p);
    else place(f);
  }
  if (!discs.length) discs.push({ free: room, files: [] });
  return discs.map((d) => d.files);
}
