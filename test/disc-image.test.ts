// Disc images of a booking's evidence, with real ffmpeg files, real Chromium
// (note PDF), real xorriso and an independent reader (bsdtar).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync, openSync, writeSync, closeSync, readSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EvidenceBundle } from '../recordings/disc/bundle.js';
import { buildDiscSet, type BuiltDisc } from '../recordings/disc/disc-set.js';
import { EvidenceKey, generateEvidenceKeyPem } from '../recordings/disc/evidence-key.js';
import { buildIso } from '../recordings/disc/iso.js';
import { MANIFEST, SIGNATURE, SUMS, PUBLIC_KEY, type Manifest } from '../recordings/disc/disc-files.js';
import { verifyDisc } from '../recordings/disc/verify.js';
import { burnImage, NoDriveError } from '../recordings/disc/burn.js';
import { NOTE_PDF } from '../recordings/disc/note.js';
import { makeEvidenceBundle, sha256File } from './helpers/evidence-fixture.js';

const chromiumPath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'plea-disc-'));
const key = new EvidenceKey(generateEvidenceKeyPem());
let bundle: EvidenceBundle;
let disc: BuiltDisc;

function options(out: string, extra: Partial<Parameters<typeof buildDiscSet>[1]> = {}) {
  return { outDir: out, medium: { name: 'cd', bytes: 360_000 * 2048 }, reserveBytes: 4 << 20, key, chromiumPath, noteStoreDir: path.join(out, 'notes'), ...extra };
}

/** Extracts the whole image with bsdtar (not our reader) into a directory. */
function extract(image: string): string {
  const dir = mkdtempSync(path.join(tmp, 'x-'));
  execFileSync('bsdtar', ['-x', '-f', image, '-C', dir]);
  return dir;
}

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]
  );
}

/** The byte offset of a file's data in the image, from xorriso's own report. */
function offsetOf(image: string, discPath: string): number {
  const out = execFileSync('xorriso', ['-indev', image, '-find', `/${discPath}`, '-exec', 'report_lba', '--'], { stderr: 'pipe' } as never).toString();
  const m = /File data lba:\s+\d+\s*,\s*(\d+)\s*,/.exec(out);
  if (!m) throw new Error(`no lba for ${discPath}: ${out}`);
  return Number(m[1]) * 2048;
}

beforeAll(async () => {
  bundle = makeEvidenceBundle(path.join(tmp, 'bundle'), { seconds: 2, segments: 2 });
  const built = await buildDiscSet(bundle, options(path.join(tmp, 'one')));
  expect(built).toHaveLength(1);
  disc = built[0] as BuiltDisc;
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('disc image', () => {
  it('is read back by bsdtar with every file present and every hash as in the signed manifest', () => {
    const dir = extract(disc.imagePath);
    const manifest = JSON.parse(readFileSync(path.join(dir, MANIFEST), 'utf8')) as Manifest;
    const onDisc = new Set(listFiles(dir));
    // Every recorded file of the bundle, with its recorded hash (not one the builder recomputed).
    for (const f of bundle.files) {
      expect(onDisc.has(f.discPath), f.discPath).toBe(true);
      expect(sha256File(path.join(dir, f.discPath)), f.discPath).toBe(f.sha256);
    }
    for (const m of manifest.files) expect(sha256File(path.join(dir, m.path)), m.path).toBe(m.sha256);
    expect(onDisc.has('情况说明.pdf')).toBe(true);
    expect(onDisc.has('情况说明.html')).toBe(true);
    expect(onDisc.has('校验指南.txt')).toBe(true);
    expect(onDisc.has('index.html')).toBe(true);
    expect(manifest.files.length + 3).toBe(onDisc.size);
    // The note: a real PDF, and the HTML in Chinese with the case, a gap with its cause and the key's fingerprint.
    expect(readFileSync(path.join(dir, NOTE_PDF)).subarray(0, 5).toString()).toBe('%PDF-');
    const note = readFileSync(path.join(dir, '情况说明.html'), 'utf8');
    expect(note).toContain(bundle.caseNumber);
    expect(note).toContain('该方不在场或未发送音视频');
    expect(note).toContain('画中画证据视频');
    expect(note).toContain(key.fingerprint.slice(0, 4));
    expect(manifest.booking.gaps[0]?.coveredBy).toBe('evidence');
    // Joliet carries the Chinese names too (what Windows reads).
    const joliet = execFileSync('xorriso', ['-read_fs', 'norock', '-joliet', 'on', '-indev', disc.imagePath, '-ls', '/'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    expect(joliet).toContain('情况说明.pdf');
  });

  it('follows its own verification guide with standard tools: sha256sum and openssl', () => {
    const dir = extract(disc.imagePath);
    const fp = execFileSync('sh', ['-c', `openssl pkey -pubin -in ${PUBLIC_KEY} -outform DER | sha256sum`], { cwd: dir }).toString().split(' ')[0];
    expect(fp).toBe(key.fingerprint);
    const sig = execFileSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', PUBLIC_KEY, '-rawin', '-in', MANIFEST, '-sigfile', SIGNATURE], { cwd: dir }).toString();
    expect(sig).toContain('Signature Verified Successfully');
    const manifest = JSON.parse(readFileSync(path.join(dir, MANIFEST), 'utf8')) as Manifest;
    expect(sha256File(path.join(dir, SUMS))).toBe(manifest.sha256sumsSha256);
    const check = execFileSync('sha256sum', ['-c', SUMS], { cwd: dir }).toString();
    expect(check.trim().split('\n')).toHaveLength(manifest.files.length);
    // The same openssl check refuses an edited manifest.
    writeFileSync(path.join(dir, MANIFEST), readFileSync(path.join(dir, MANIFEST), 'utf8').replace(bundle.caseNumber, '京朝检刑诉〔2026〕124号'));
    expect(() => execFileSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', PUBLIC_KEY, '-rawin', '-in', MANIFEST, '-sigfile', SIGNATURE], { cwd: dir, stdio: 'pipe' })).toThrow();
  });

  it('is byte-identical when built again, with new file times and a freshly printed note', async () => {
    for (const f of bundle.files) utimesSync(f.sourcePath, new Date(), new Date(Date.now() - 86_400_000));
    await new Promise((r) => setTimeout(r, 1100)); // a later second for Chromium's print stamp
    const again = await buildDiscSet(bundle, options(path.join(tmp, 'two')));
    expect(existsSync(path.join(tmp, 'two', 'notes'))).toBe(true); // its own note store: the PDF was printed anew
    expect(again[0]?.sha256).toBe(disc.sha256);
    expect(sha256File(again[0]!.imagePath)).toBe(disc.sha256);
    expect(sha256File(disc.imagePath)).toBe(disc.sha256);
  });

  it('is written by the kernel copy byte for byte as xorriso alone writes it (Chinese and long names, nested, empty, sizes off the block)', async () => {
    const src = path.join(tmp, 'layout');
    const deep = path.join(src, 'originals', '第一次会话', '房间');
    execFileSync('mkdir', ['-p', deep]);
    const long = `${'京朝检刑诉〔2026〕9001号-房间摄像头-第一段-'.repeat(4)}.webm`; // over 255 bytes of Rock Ridge: its name continues in a CE area
    writeFileSync(path.join(deep, long), Buffer.alloc(2048 * 3 + 17, 7));
    writeFileSync(path.join(src, '空.txt'), '');
    writeFileSync(path.join(src, 'one-block.bin'), Buffer.alloc(2048, 1));
    const grafts = [
      ...bundle.files.map((f) => ({ discPath: f.discPath, sourcePath: f.sourcePath })),
      ...listFiles(src).map((p) => ({ discPath: p, sourcePath: path.join(src, p) })),
    ];
    const fast = await buildIso({ grafts, output: path.join(tmp, 'fast.iso'), epoch: 1_800_000_000, volumeId: 'LAYOUT' });
    const alone = await buildIso({ grafts, output: path.join(tmp, 'alone.iso'), epoch: 1_800_000_000, volumeId: 'LAYOUT', method: 'xorriso' });
    expect(fast.method, fast.fallbackReason).toBe('kernel-copy');
    expect(alone.method).toBe('xorriso');
    expect(fast.bytes).toBe(alone.bytes);
    expect(fast.sha256).toBe(alone.sha256);
    expect(sha256File(path.join(tmp, 'fast.iso'))).toBe(alone.sha256);
    const dir = extract(path.join(tmp, 'fast.iso'));
    expect(readFileSync(path.join(dir, 'originals', '第一次会话', '房间', long)).length).toBe(2048 * 3 + 17);
  });

  it('verifies clean, and names the file whose byte was flipped in the image', async () => {
    const ok = await verifyDisc(disc.imagePath, { trustedFingerprint: key.fingerprint });
    expect(ok.problems).toEqual([]);
    expect(ok.ok).toBe(true);
    expect(ok.signature).toBe('valid');
    expect(ok.files.filter((f) => f.status === 'ok')).toHaveLength(ok.files.length);

    const bad = path.join(tmp, 'flipped.iso');
    copyFileSync(disc.imagePath, bad);
    const target = 'originals/room.video/0005.webm';
    const at = offsetOf(bad, target) + 100;
    const fd = openSync(bad, 'r+');
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] = (b[0] as number) ^ 0x01;
    writeSync(fd, b, 0, 1, at);
    closeSync(fd);
    const r = await verifyDisc(bad, { trustedFingerprint: key.fingerprint });
    expect(r.ok).toBe(false);
    expect(r.files.find((f) => f.path === target)?.status).toBe('hash_mismatch');
    expect(r.files.filter((f) => f.status !== 'ok').map((f) => f.path)).toEqual([target]);
    expect(r.problems.join('\n')).toContain(target);
  });

  it('reports an edited manifest whose hashes were recomputed, and a disc re-signed with another key', async () => {
    // The forger swaps a recording, recomputes its hash in the manifest and in SHA256SUMS: only the signature can tell.
    const dir = extract(disc.imagePath);
    const victim = 'originals/lawyer.audio/0004.webm';
    copyFileSync(path.join(dir, 'originals/lawyer.audio/0008.webm'), path.join(dir, victim));
    const manifest = JSON.parse(readFileSync(path.join(dir, MANIFEST), 'utf8')) as Manifest;
    const entry = manifest.files.find((f) => f.path === victim)!;
    entry.sha256 = sha256File(path.join(dir, victim));
    entry.bytes = statSync(path.join(dir, victim)).size;
    const sums = readFileSync(path.join(dir, SUMS), 'utf8').split('\n').map((l) => (l.endsWith(`  ${victim}`) ? `${entry.sha256}  ${victim}` : l)).join('\n');
    writeFileSync(path.join(dir, SUMS), sums);
    manifest.sha256sumsSha256 = sha256File(path.join(dir, SUMS));
    const forge = async (name: string, signer: EvidenceKey | null) => {
      const bytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
      writeFileSync(path.join(dir, MANIFEST), bytes);
      if (signer) {
        writeFileSync(path.join(dir, SIGNATURE), signer.sign(bytes));
        writeFileSync(path.join(dir, PUBLIC_KEY), signer.publicKeyPem);
        const pk = manifest.files.find((f) => f.path === PUBLIC_KEY)!;
        expect(pk).toBeDefined();
      }
      const image = path.join(tmp, name);
      await buildIso({ grafts: listFiles(dir).map((p) => ({ discPath: p, sourcePath: path.join(dir, p) })), output: image, epoch: 1_800_000_000, volumeId: 'FORGED' });
      return verifyDisc(image, { trustedFingerprint: key.fingerprint });
    };
    const edited = await forge('edited.iso', null);
    expect(edited.ok).toBe(false);
    expect(edited.signature).toBe('invalid');
    expect(edited.files.find((f) => f.path === victim)?.status).toBe('ok'); // the recomputed hashes agree...
    expect(edited.problems.join('\n')).toContain(`${MANIFEST}: the signature does not verify`); // ...the signature does not

    // Re-signed with the forger's own key (and its public key on the disc): the signature holds, the key is not the site's.
    const forger = new EvidenceKey(generateEvidenceKeyPem());
    const pk = manifest.files.find((f) => f.path === PUBLIC_KEY)!;
    pk.sha256 = createHashHex(forger.publicKeyPem);
    pk.bytes = Buffer.byteLength(forger.publicKeyPem);
    writeFileSync(path.join(dir, SUMS), readFileSync(path.join(dir, SUMS), 'utf8').replace(/^[0-9a-f]{64}  evidence-key\.pub\.pem$/m, `${pk.sha256}  ${PUBLIC_KEY}`));
    manifest.sha256sumsSha256 = sha256File(path.join(dir, SUMS));
    const resigned = await forge('resigned.iso', forger);
    expect(resigned.signature).toBe('valid');
    expect(resigned.keyTrusted).toBe(false);
    expect(resigned.ok).toBe(false);
    expect(resigned.problems.join('\n')).toContain(`not by this site's evidence key`);
  });

  it('burns onto a stdio: pseudo-drive, reads it back identical and verifies it', async () => {
    const target = path.join(tmp, 'drive.bin');
    const steps = new Set<string>();
    const r = await burnImage({ image: disc.imagePath, device: `stdio:${target}`, trustedFingerprint: key.fingerprint, onProgress: (p) => steps.add(p.step) }, disc.sha256);
    expect(r.identical).toBe(true);
    expect(r.readBackSha256).toBe(disc.sha256);
    expect(r.verify.ok).toBe(true);
    expect([...steps]).toEqual(['writing', 'reading_back', 'verifying']);
    await expect(burnImage({ image: disc.imagePath, device: '/dev/plea-no-such-drive' }, disc.sha256)).rejects.toThrow(NoDriveError);
  });

  it('splits a booking larger than the medium over numbered discs, each with its own signed manifest', async () => {
    // A tiny configured medium: the evidence video alone nearly fills one disc.
    const medium = { name: 'test', bytes: Math.round(2.6 * (1 << 20)) };
    const progress: number[] = [];
    const discs = await buildDiscSet(bundle, options(path.join(tmp, 'split'), { medium, reserveBytes: Math.round(0.9 * (1 << 20)), onProgress: (p) => progress.push(p.fraction) }));
    expect(discs.length).toBeGreaterThanOrEqual(2);
    const seen = new Map<string, number>();
    for (const d of discs) {
      expect(d.bytes).toBeLessThanOrEqual(medium.bytes);
      expect(d.count).toBe(discs.length);
      const r = await verifyDisc(d.imagePath, { trustedFingerprint: key.fingerprint });
      expect(r.problems).toEqual([]);
      expect(r.disc).toEqual({ number: d.number, count: discs.length });
      const dir = extract(d.imagePath);
      const m = JSON.parse(readFileSync(path.join(dir, MANIFEST), 'utf8')) as Manifest;
      for (const f of m.files.filter((x) => x.kind === 'evidence' || x.kind === 'original')) {
        expect(seen.has(f.path), `${f.path} on two discs`).toBe(false);
        seen.set(f.path, d.number);
      }
      // Each disc's manifest lists the whole set and the disc each file is on.
      expect(m.set.map((s) => s.path).sort()).toEqual(bundle.files.map((f) => f.discPath).sort());
    }
    expect([...seen.keys()].sort()).toEqual(bundle.files.map((f) => f.discPath).sort());
    for (const [p, n] of seen) {
      const m = JSON.parse(execFileSync('bsdtar', ['-x', '-O', '-f', discs[0]!.imagePath, MANIFEST]).toString()) as Manifest;
      expect(m.set.find((s) => s.path === p)?.disc).toBe(n);
    }
    expect(progress.at(-1)).toBe(1);
    expect(progress.some((f) => f > 0 && f < 1)).toBe(true);
  });

  it('cuts a file larger than one disc into numbered parts, each verified on its disc, rejoined by the guide\'s own commands to the whole file\'s SHA-256', async () => {
    const video = bundle.files.find((f) => f.source === 'evidence')!;
    // A site's small configured medium: less room for recordings than the evidence video needs.
    const reserve = Math.round(0.9 * (1 << 20));
    const medium = { name: 'tiny', bytes: reserve + Math.floor(video.bytes / 2) + 64 * 1024 };
    const discs = await buildDiscSet(bundle, options(path.join(tmp, 'parts'), { medium, reserveBytes: reserve }));
    const merged = mkdtempSync(path.join(tmp, 'merged-'));
    const partsSeen: string[] = [];
    let guide = '';
    for (const d of discs) {
      expect(d.bytes).toBeLessThanOrEqual(medium.bytes);
      const r = await verifyDisc(d.imagePath, { trustedFingerprint: key.fingerprint });
      expect(r.problems).toEqual([]);
      // Read back independently (bsdtar), every part checked against this disc's SHA256SUMS with sha256sum.
      const dir = extract(d.imagePath);
      execFileSync('sha256sum', ['-c', '--quiet', SUMS], { cwd: dir });
      const m = JSON.parse(readFileSync(path.join(dir, MANIFEST), 'utf8')) as Manifest;
      // Every manifest names the whole file, its size and SHA-256, and where each part is.
      expect(m.splitFiles).toEqual([expect.objectContaining({ path: video.discPath, bytes: video.bytes, sha256: video.sha256 })]);
      expect(m.splitFiles[0]!.parts.length).toBeGreaterThanOrEqual(2);
      for (const f of m.files.filter((x) => x.partOf)) {
        expect(f.partOf).toMatchObject({ path: video.discPath, sha256: video.sha256, parts: m.splitFiles[0]!.parts.length });
        expect(m.splitFiles[0]!.parts.find((p) => p.path === f.path)).toMatchObject({ disc: d.number, sha256: f.sha256, bytes: f.bytes });
        partsSeen.push(f.path);
      }
      expect(m.files.some((x) => x.path === video.discPath)).toBe(false); // never whole on a disc
      guide = readFileSync(path.join(dir, '校验指南.txt'), 'utf8');
      execFileSync('cp', ['-a', `${dir}/.`, merged]);
    }
    expect(partsSeen.sort()).toEqual(Array.from({ length: partsSeen.length }, (_, i) => `${video.discPath}.${String(i + 1).padStart(3, '0')}`));
    // The guide's own commands: cat to rejoin, sha256sum to check; Windows' copy /b names the same parts in the same order.
    const cat = guide.split('\n').map((l) => l.trim()).find((l) => l.startsWith('cat '))!;
    expect(cat).toBe(`cat ${partsSeen.join(' ')} > evidence.mp4`);
    execFileSync('sh', ['-c', cat], { cwd: merged });
    expect(sha256File(path.join(merged, 'evidence.mp4'))).toBe(video.sha256);
    expect(guide).toContain(video.sha256);
    expect(guide).toContain(`copy /b ${partsSeen.map((p) => p.replace(/\//g, '\\')).join('+')} evidence.mp4`);
    expect(guide).toContain('certutil -hashfile evidence.mp4 SHA256');
  });
});

function createHashHex(s: string): string {
  return execFileSync('sha256sum', { input: s }).toString().split(' ')[0] as string;
}
