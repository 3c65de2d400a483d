// Reads the layout of an ISO 9660 image from its head (the bytes before the
// first file's data): the volume's size and, for every file of the primary
// tree, its name (Rock Ridge NM, as the graft list named it) and the extents
// holding its data. Used to let xorriso lay out and write the file system
// while the kernel copies the files' contents into place (see iso.ts).
//
// Only what libisofs writes for our options is accepted: a primary volume
// descriptor at block 16, directories and continuation areas before the file
// data, no relocated directories (RR CL/RE), no interleaving. Anything else is
// 'unsupported' and the caller lets xorriso write the whole image.

export const SECTOR = 2048;

export interface IsoExtent {
  /** Path in the image, '/'-separated, without the leading '/'. */
  discPath: string;
  lba: number;
  bytes: number;
  /** Where in the file this extent's bytes start (files over 4 GiB have several extents). */
  fileOffset: number;
}

export type HeadParse =
  | { status: 'more'; needBytes: number }
  | { status: 'unsupported'; why: string }
  | { status: 'ok'; volumeBytes: number; headBytes: number; extents: IsoExtent[] };

class NeedMore extends Error {
  constructor(readonly needBytes: number) { super('need more'); }
}
class Unsupported extends Error {}

const u32 = (b: Buffer, at: number) => b.readUInt32LE(at);

/** Parses the directory tree out of the first `head.length` bytes of an image being written. */
export function parseIsoHead(head: Buffer): HeadParse {
  try {
    const pvdAt = 16 * SECTOR;
    need(head, pvdAt + SECTOR);
    if (head[pvdAt] !== 1 || head.toString('latin1', pvdAt + 1, pvdAt + 6) !== 'CD001') throw new Unsupported('no primary volume descriptor at block 16');
    const blockSize = head.readUInt16LE(pvdAt + 128);
    if (blockSize !== SECTOR) throw new Unsupported(`logical block size ${blockSize}`);
    const volumeBytes = u32(head, pvdAt + 80) * SECTOR;
    const root = head.subarray(pvdAt + 156, pvdAt + 156 + 34);
    const extents: IsoExtent[] = [];
    let metadataEnd = 18 * SECTOR;
    const seenDirs = new Set<number>();
    const walk = (dirLba: number, dirBytes: number, prefix: string, depth: number) => {
      if (depth > 64) throw new Unsupported('directories nested too deep');
      if (seenDirs.has(dirLba)) throw new Unsupported('a directory extent is referenced twice');
      seenDirs.add(dirLba);
      const start = dirLba * SECTOR;
      const end = start + dirBytes;
      need(head, end);
      metadataEnd = Math.max(metadataEnd, end);
      let at = start;
      let pending: { name: string; fileOffset: number } | null = null;
      while (at < end) {
        const len = head[at] as number;
        if (len === 0) {
          at = (Math.floor(at / SECTOR) + 1) * SECTOR; // records never cross a block: the rest of this block is padding
          continue;
        }
        if (len < 34 || at + len > end) throw new Unsupported('a malformed directory record');
        const rec = head.subarray(at, at + len);
        at += len;
        const idLen = rec[32] as number;
        const id = rec.subarray(33, 33 + idLen);
        if (idLen === 1 && (id[0] === 0 || id[0] === 1)) continue; // '.' and '..'
        const flags = rec[25] as number;
        const lba = u32(rec, 2);
        const bytes = u32(rec, 10);
        const suaAt = 33 + idLen + (idLen % 2 === 0 ? 1 : 0);
        const rr = readRockRidge(head, rec.subarray(suaAt));
        if (rr.relocated) throw new Unsupported('relocated directories (Rock Ridge CL/RE)');
        const name = rr.name ?? id.toString('latin1').replace(/;1$/, '').replace(/\.$/, '');
        const full = prefix ? `${prefix}/${name}` : name;
        if (flags & 0x02) {
          walk(lba, bytes, full, depth + 1);
          continue;
        }
        const fileOffset: number = pending && pending.name === full ? pending.fileOffset : 0;
        if (bytes > 0) extents.push({ discPath: full, lba, bytes, fileOffset });
        pending = flags & 0x80 ? { name: full, fileOffset: fileOffset + bytes } : null;
      }
    };
    walk(u32(root, 2), u32(root, 10), '', 0);
    for (const x of extents) {
      if (x.lba * SECTOR < metadataEnd) throw new Unsupported(`file data of ${x.discPath} lies among the directories`);
      if ((x.lba * SECTOR) + x.bytes > volumeBytes) throw new Unsupported(`file data of ${x.discPath} lies beyond the volume`);
    }
    const firstData = extents.length ? Math.min(...extents.map((x) => x.lba * SECTOR)) : volumeBytes;
    need(head, firstData);
    return { status: 'ok', volumeBytes, headBytes: firstData, extents };
  } catch (err) {
    if (err instanceof NeedMore) return { status: 'more', needBytes: err.needBytes };
    if (err instanceof Unsupported) return { status: 'unsupported', why: err.message };
    if (err instanceof RangeError) return { status: 'unsupported', why: err.message };
    throw err;
  }
}

function need(head: Buffer, bytes: number): void {
  if (head.length < bytes) throw new NeedMore(bytes);
}

/** The Rock Ridge name of a record (NM entries, continued into CE areas), and whether it is relocated. */
function readRockRidge(head: Buffer, sua: Buffer): { name: string | null; relocated: boolean } {
  const parts: Buffer[] = [];
  let named = false;
  let relocated = false;
  let area: Buffer | null = sua;
  let hops = 0;
  while (area) {
    let next: Buffer | null = null;
    let i = 0;
    while (i + 4 <= area.length) {
      const sig = area.toString('latin1', i, i + 2);
      const len = area[i + 2] as number;
      if (len < 4 || i + len > area.length) break;
      if (sig === 'NM') {
        const flags = area[i + 4] as number;
        if (flags & 0x06) throw new Unsupported('a Rock Ridge name of "." or ".."');
        parts.push(area.subarray(i + 5, i + len));
        named = true;
      } else if (sig === 'CE') {
        const lba = u32(area, i + 4);
        const off = u32(area, i + 12);
        const clen = u32(area, i + 20);
        const at = lba * SECTOR + off;
        need(head, at + clen);
        next = head.subarray(at, at + clen);
      } else if (sig === 'CL' || sig === 'RE') {
        relocated = true;
      } else if (sig === 'ST') {
        break;
      }
      i += len;
    }
    area = next;
    if (++hops > 32) throw new Unsupported('too many Rock Ridge continuation areas');
  }
  return { name: named ? Buffer.concat(parts).toString('utf8') : null, relocated };
}
