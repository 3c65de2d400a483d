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

/**
 * Shares the recorded files out over discs in their order, each file on the
 * first disc it fits (so discs stay roughly chronological), keeping `reserve`
 * bytes per disc for the note, manifest, guide, index and file-system tables.
 * A single file larger than a disc cannot be split across discs: it is refused
 * with a message naming it and a medium it would fit.
 */
export function planDiscs(files: readonly BundleFile[], medium: Medium, reserve: number): BundleFile[][] {
  const room = medium.bytes - reserve;
  if (room <= 0) throw new DiscPlanError(`medium ${medium.name} (${medium.bytes} bytes) is smaller than the disc's own files (${reserve} bytes)`);
  const discs: Array<{ free: number; files: BundleFile[] }> = [];
  for (const f of files) {
    const need = sectors(f.bytes) + PER_FILE_OVERHEAD;
    if (need > room) {
      const fits = Object.entries(STANDARD_MEDIA).find(([, b]) => b > medium.bytes && b - reserve >= need)?.[0];
      throw new DiscPlanError(
        `${f.discPath} (${f.bytes} bytes) is larger than one ${medium.name} disc holds (${room} bytes for recordings)${fits ? `; choose the ${fits} medium` : ''}`
      );
    }
    let disc = discs.find((d) => d.free >= need);
    if (!disc) {
      disc = { free: room, files: [] };
      discs.push(disc);
    }
    disc.files.push(f);
    disc.free -= need;
  }
  if (!discs.length) discs.push({ free: room, files: [] });
  return discs.map((d) => d.files);
}
