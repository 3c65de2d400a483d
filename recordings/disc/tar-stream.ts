// Reads a POSIX tar stream (as bsdtar writes it from a disc image) entry by
// entry without touching the disk: each regular file's bytes are hashed as they
// pass, and small files are kept for the caller. Handles pax headers (UTF-8
// names, sizes over 8 GiB) and GNU long names.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

export interface TarFile {
  path: string;
  bytes: number;
  sha256: string;
  /** The content, for files up to `keepUpTo` bytes. */
  content: Buffer | null;
}

function octal(buf: Buffer, off: number, len: number): number {
  const field = buf.subarray(off, off + len);
  if (field[0] !== undefined && (field[0] & 0x80) !== 0) {
    // base-256
    let v = 0;
    for (let i = 1; i < field.length; i++) v = v * 256 + (field[i] as number);
    return v;
  }
  const s = field.toString('latin1').replace(/\0.*$/s, '').trim();
  return s ? parseInt(s, 8) : 0;
}

function cstr(buf: Buffer, off: number, len: number): string {
  const field = buf.subarray(off, off + len);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? len : end).toString('utf8');
}

function parsePax(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = Number(data.subarray(i, sp).toString('latin1'));
    if (!Number.isFinite(len) || len <= 0) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    i += len;
  }
  return out;
}

/** Calls `onFile` for every regular file; resolves when the stream ends. */
export async function readTar(stream: Readable, keepUpTo: number, onFile: (f: TarFile) => void): Promise<void> {
  let buf: Buffer = Buffer.alloc(0);
  // Current entry state.
  let state: 'header' | 'data' | 'pad' = 'header';
  let remaining = 0;
  let pad = 0;
  let kind = '';
  let name = '';
  let size = 0;
  let hash = createHash('sha256');
  let kept: Buffer[] | null = null;
  let meta: Buffer[] = [];
  let pax = new Map<string, string>();
  let longName: string | null = null;
  let ended = false;

  const finishEntry = () => {
    if (kind === 'x') pax = parsePax(Buffer.concat(meta));
    else if (kind === 'L') longName = Buffer.concat(meta).toString('utf8').replace(/\0+$/, '');
    else if (kind === 'g') { /* global pax header: ignored */ }
    else if (kind === '0' || kind === '\0' || kind === '7') {
      onFile({ path: name.replace(/^\.\//, ''), bytes: size, sha256: hash.digest('hex'), content: kept ? Buffer.concat(kept) : null });
    }
    if (kind !== 'x' && kind !== 'L' && kind !== 'g') {
      pax = new Map();
      longName = null;
    }
  };

  for await (const chunk of stream as AsyncIterable<Buffer>) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    let off = 0;
    while (!ended) {
      if (state === 'header') {
        if (buf.length - off < 512) break;
        const hdr = buf.subarray(off, off + 512);
        off += 512;
        if (hdr.every((b) => b === 0)) { ended = true; break; }
        kind = String.fromCharCode(hdr[156] as number);
        const prefix = cstr(hdr, 345, 155);
        const base = cstr(hdr, 0, 100);
        name = pax.get('path') ?? longName ?? (prefix ? `${prefix}/${base}` : base);
        size = pax.has('size') ? Number(pax.get('size')) : octal(hdr, 124, 12);
        remaining = size;
        pad = (512 - (size % 512)) % 512;
        hash = createHash('sha256');
        const isMeta = kind === 'x' || kind === 'L' || kind === 'g';
        meta = [];
        kept = !isMeta && size <= keepUpTo ? [] : null;
        state = 'data';
        if (remaining === 0) { state = pad ? 'pad' : 'header'; if (!pad) finishEntry(); }
      } else if (state === 'data') {
        const take = Math.min(remaining, buf.length - off);
        if (take === 0) break;
        const piece = buf.subarray(off, off + take);
        if (kind === 'x' || kind === 'L' || kind === 'g') meta.push(Buffer.from(piece));
        else {
          hash.update(piece);
          if (kept) kept.push(Buffer.from(piece));
        }
        off += take;
        remaining -= take;
        if (remaining === 0) {
          if (pad) state = 'pad';
          else { state = 'header'; finishEntry(); }
        }
      } else {
        const take = Math.min(pad, buf.length - off);
        if (take === 0) break;
        off += take;
        pad -= take;
        if (pad === 0) { state = 'header'; finishEntry(); }
      }
    }
    // After the end-of-archive blocks the rest is drained, so the writer is not cut off.
    buf = ended || off >= buf.length ? Buffer.alloc(0) : buf.subarray(off);
  }
  if (!ended && (state !== 'header' || buf.length)) throw new Error('the tar stream ended in the middle of an entry');
}
