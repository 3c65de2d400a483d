// xorriso's progress lines, as Debian's 1.5.4 prints them, become fractions for
// the build and burn progress bars; other lines do not.
import { describe, expect, it } from 'vitest';
import { parseXorrisoProgress, graftLine, volumeIdFor } from '../recordings/disc/iso.js';
import { parseBurnProgress } from '../recordings/disc/burn.js';
import { planDiscs, DiscPlanError } from '../recordings/disc/media.js';
import type { BundleFile } from '../recordings/disc/bundle.js';
import { parseIsoHead } from '../recordings/disc/iso-layout.js';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

describe('xorriso progress', () => {
  it('reads image and burn progress lines', () => {
    expect(parseXorrisoProgress('xorriso : UPDATE :  30.32% done')).toBeCloseTo(0.3032);
    expect(parseXorrisoProgress('xorriso : UPDATE :  63.49% done, estimate finish Tue Dec 01 22:06:29 2026')).toBeCloseTo(0.6349);
    expect(parseXorrisoProgress('xorriso : UPDATE :       3 files added in 1 seconds')).toBeNull();
    expect(parseBurnProgress('xorriso : UPDATE :   86 of  286 MB written (fifo  0%) [buf  50%]  53.4x.')).toBeCloseTo(86 / 286);
    expect(parseBurnProgress('xorriso : UPDATE :    0 of  286 MB written [buf  50%]')).toBe(0);
    expect(parseBurnProgress('Writing to \'stdio:/x\' completed successfully.')).toBeNull();
  });

  it('escapes graft points and names volumes as ISO 9660 allows', () => {
    expect(graftLine({ discPath: 'a=b\\c.webm', sourcePath: '/x/a=b' })).toBe('/a\\=b\\\\c.webm=/x/a\\=b');
    expect(() => graftLine({ discPath: 'a\nb', sourcePath: '/x' })).toThrow(/line break/);
    expect(volumeIdFor('PLEA_B20261202-001_1_2')).toBe('PLEA_B20261202_001_1_2');
    expect(volumeIdFor('x'.repeat(40))).toHaveLength(32);
  });
});

describe('disc plan', () => {
  const file = (p: string, bytes: number): BundleFile => ({ discPath: p, sourcePath: `/s/${p}`, source: 'original', track: 't', startedAt: '', endedAt: '', bytes, sha256: '', container: 'webm', codec: 'vp8' });
  it('fills discs in order, first fit; cuts a file larger than a disc into numbered parts on consecutive discs', () => {
    const mib = 1 << 20;
    const plan = planDiscs([file('a', 6 * mib), file('b', 3 * mib), file('c', 1 * mib), file('d', 5 * mib)], { name: 't', bytes: 11 * mib }, mib);
    expect(plan.map((d) => d.map((f) => f.discPath))).toEqual([['a', 'b'], ['c', 'd']]); // c (with its directory records) no longer fits beside a and b
    const split = planDiscs([file('small', mib), file('huge.mp4', 20 * mib + 5), file('after', mib)], { name: 'tiny', bytes: 11 * mib }, mib);
    expect(split.map((d) => d.map((f) => f.discPath))).toEqual([['small', 'after'], ['huge.mp4.001'], ['huge.mp4.002'], ['huge.mp4.003']]);
    const parts = split.flat().filter((f) => f.part);
    expect(parts.map((f) => f.discPath)).toEqual(['huge.mp4.001', 'huge.mp4.002', 'huge.mp4.003']);
    // Whole sectors, in order, back to back, covering the file exactly; every part within one disc's room.
    let at = 0;
    for (const p of parts) {
      expect(p.part?.offset).toBe(at);
      expect(p.part?.of).toBe(3);
      if (p.part!.n < 3) expect(p.bytes % 2048).toBe(0);
      expect(p.bytes + 3 * 2048).toBeLessThanOrEqual(10 * mib);
      at += p.bytes;
    }
    expect(at).toBe(20 * mib + 5);
    const discOfPart = parts.map((p) => split.findIndex((d) => d.includes(p)));
    expect(discOfPart).toEqual([1, 2, 3]);
    expect(() => planDiscs([file('huge.mp4', 20 * mib)], { name: 'tiny', bytes: 2 * mib }, 2 * mib - 4096)).toThrow(DiscPlanError);
  });
});

describe('image layout read from xorriso\'s head', () => {
  it('finds a file over 4 GiB as consecutive extents (multi-extent), back to back, covering it exactly', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'plea-layout-'));
    try {
      // Sparse: no disk is used; xorriso is stopped once the head has come through the pipe.
      const big = path.join(dir, 'big.bin');
      closeSync(openSync(big, 'w'));
      truncateSync(big, 4 * 2 ** 30 + 5 * 2048 + 7);
      writeFileSync(path.join(dir, 'small.txt'), 'x');
      const child = spawn('xorriso', ['-as', 'mkisofs', '-iso-level', '3', '-J', '-joliet-long', '-R', '-graft-points', `/originals/大文件.bin=${big}`, `/small.txt=${path.join(dir, 'small.txt')}`, '-o', '-'], { stdio: ['ignore', 'pipe', 'ignore'] });
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const c of child.stdout as AsyncIterable<Buffer>) {
        chunks.push(c);
        total += c.length;
        if (total >= 4 << 20) break;
      }
      child.kill('SIGKILL');
      const r = parseIsoHead(Buffer.concat(chunks));
      expect(r.status).toBe('ok');
      if (r.status !== 'ok') return;
      const ext = r.extents.filter((x) => x.discPath === 'originals/大文件.bin');
      expect(ext.length).toBe(2);
      expect(ext[0]!.fileOffset).toBe(0);
      expect(ext[1]!.fileOffset).toBe(ext[0]!.bytes);
      expect(ext[1]!.lba * 2048).toBe(ext[0]!.lba * 2048 + ext[0]!.bytes);
      expect(ext[0]!.bytes + ext[1]!.bytes).toBe(4 * 2 ** 30 + 5 * 2048 + 7);
      expect(r.extents.find((x) => x.discPath === 'small.txt')?.bytes).toBe(1);
      expect(r.volumeBytes).toBeGreaterThan(4 * 2 ** 30);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
