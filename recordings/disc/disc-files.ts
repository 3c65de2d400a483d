// The small files every disc of a set carries beside the recordings: the signed
// manifest, SHA256SUMS, the verification guide, the index page and the public
// key. Each is a pure function of the bundle and the disc plan.
import { createHash } from 'node:crypto';
import type { BundleFile, EvidenceBundle } from './bundle.js';
import { groupedFingerprint } from './evidence-key.js';
import type { PlannedFile } from './media.js';
import { NOTE_HTML, NOTE_PDF } from './note.js';
import { escapeHtml as h, sizeText } from './wording.js';

export const MANIFEST = 'manifest.json';
export const SIGNATURE = 'manifest.json.sig';
export const SUMS = 'SHA256SUMS';
export const PUBLIC_KEY = 'evidence-key.pub.pem';
export const GUIDE = '校验指南.txt';
export const INDEX = 'index.html';
export const MANIFEST_FORMAT = 'plea-room-controller/evidence-manifest/1';

/** Files outside the manifest's own list: the manifest itself, its signature, and SHA256SUMS (whose hash the manifest states). */
export const SELF_FILES: ReadonlySet<string> = new Set([MANIFEST, SIGNATURE, SUMS]);

export interface DiscEntry {
  path: string;
  bytes: number;
  sha256: string;
}

export interface ManifestFile extends DiscEntry {
  /** 'evidence' | 'original' for recordings; 'note' | 'guide' | 'index' | 'key' for the disc's own files. */
  kind: 'evidence' | 'original' | 'note' | 'guide' | 'index' | 'key';
  track?: string;
  startedAt?: string;
  endedAt?: string;
  container?: string;
  codec?: string;
  joinedFrom?: Array<{ seq: number; sha256: string; bytes: number }>;
  /** This file is one part of a recorded file larger than one disc. */
  partOf?: { path: string; bytes: number; sha256: string; part: number; parts: number };
}

/** A recorded file larger than one disc: its parts, in order, and the discs that hold them. */
export interface SplitFile {
  path: string;
  bytes: number;
  sha256: string;
  parts: Array<{ path: string; disc: number; bytes: number; sha256: string }>;
}

export interface Manifest {
  format: string;
  booking: {
    id: string;
    caseNumber: string;
    site: string;
    room: EvidenceBundle['room'];
    sessionKind: EvidenceBundle['sessionKind'];
    priorityClass: EvidenceBundle['priorityClass'];
    procuratorateId: string;
    detaineeId: string;
    prosecutorId: string;
    lawyer: EvidenceBundle['lawyer'];
    scheduled: EvidenceBundle['scheduled'];
    recording: EvidenceBundle['recording'];
    parties: EvidenceBundle['parties'];
    statusHistory: EvidenceBundle['statusHistory'];
    gaps: Array<Omit<EvidenceBundle['gaps'][number], 'causeText'> & { causeText: string }>;
    segmentChain: EvidenceBundle['segmentChain'];
  };
  disc: { number: number; count: number; medium: string; volumeId: string };
  signingKey: { algorithm: 'Ed25519'; publicKeyFile: string; fingerprintSha256: string; signatureFile: string };
  /** Every file on this disc except manifest.json, manifest.json.sig and SHA256SUMS. */
  files: ManifestFile[];
  /** SHA-256 of this disc's SHA256SUMS file. */
  sha256sumsSha256: string;
  /** Every recorded file of the booking (each part of a split one) and the disc that holds it. */
  set: Array<{ path: string; disc: number; bytes: number; sha256: string }>;
  /** Recorded files cut into parts (larger than one disc), with the whole file's size and SHA-256: on every disc of the set. */
  splitFiles: SplitFile[];
}

export const sha256Hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

export function recordingEntry(f: BundleFile): ManifestFile {
  return {
    path: f.discPath, bytes: f.bytes, sha256: f.sha256, kind: f.source, track: f.track, startedAt: f.startedAt, endedAt: f.endedAt,
    container: f.container, codec: f.codec, ...(f.joinedFrom ? { joinedFrom: f.joinedFrom } : {}),
  };
}

/** `sha256sum -c` format, sorted by path (byte order), '/'-separated paths relative to the disc's root. */
export function sha256sums(entries: readonly DiscEntry[]): string {
  return [...entries]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((e) => `${e.sha256}  ${e.path}\n`)
    .join('');
}

export function manifestBooking(b: EvidenceBundle): Manifest['booking'] {
  return {
    id: b.bookingId, caseNumber: b.caseNumber, site: b.siteName, room: b.room, sessionKind: b.sessionKind, priorityClass: b.priorityClass,
    procuratorateId: b.procuratorateId, detaineeId: b.detaineeId, prosecutorId: b.prosecutorId, lawyer: b.lawyer, scheduled: b.scheduled,
    recording: b.recording, parties: b.parties, statusHistory: b.statusHistory,
    gaps: b.gaps.map((g) => ({ ...g, causeText: g.causeText.zh })),
    segmentChain: b.segmentChain,
  };
}

/** The exact bytes that are signed and written: two-space JSON, keys in a fixed order, one final newline. */
export function manifestBytes(m: Manifest): Buffer {
  return Buffer.from(`${JSON.stringify(m, null, 2)}\n`, 'utf8');
}

/** The guide's rejoining step for files cut into parts: standard tools only. */
function rejoinText(splits: readonly SplitFile[]): string {
  if (!splits.length) return '';
  const one = (f: SplitFile) => {
    const name = f.path.split('/').at(-1) as string;
    const discs = [...new Set(f.parts.map((p) => p.disc))].join(', ');
    return `   ${f.path}（${f.parts.length} 段 / parts, 光盘 / discs ${discs}; ${f.bytes} 字节 / bytes）
   Linux / macOS:
     cat ${f.parts.map((p) => p.path).join(' ')} > ${name}
     sha256sum ${name}
   Windows:
     copy /b ${f.parts.map((p) => p.path.replace(/\//g, '\\')).join('+')} ${name}
     certutil -hashfile ${name} SHA256
   输出应为 / must print:
   ${f.sha256}
`;
  };
  return `
5. 合并分段文件 / Rejoin a file carried in parts
   大于一张光盘的文件分为编号的段（…001、…002 …），每段在其光盘上按第 4 步单独校验。先把各盘上的全部段复制到同一目录的同一相对路径下，再按顺序合并，
   合并结果的 SHA-256 应与各盘清单 "splitFiles" 中记载的整文件值相同：
   A file larger than one disc is carried in numbered parts (…001, …002, …), each checked on its disc by step 4. Copy every part from its disc into one
   directory (same relative paths), join them in order and check the whole file against "splitFiles" in any disc's manifest:
${f(splits)}`;
  function f(list: readonly SplitFile[]): string {
    return list.map(one).join('\n');
  }
}

export function guideText(fingerprint: string, splits: readonly SplitFile[] = []): string {
  return `校验指南 / How to verify this disc
=================================

本光盘的全部文件可用通用工具校验，无需本系统。以下命令在光盘根目录执行（Linux、macOS 或装有 OpenSSL 的 Windows）。
Every file on this disc can be checked with standard tools alone. Run these in the disc's root directory.

1. 核对签名密钥 / Check the signing key
   openssl pkey -pubin -in ${PUBLIC_KEY} -outform DER | sha256sum
   输出应为 / must print:
   ${fingerprint}
   并与检察院公布的证据签名公钥指纹一致（情况说明第六部分亦载明）。
   and match the evidence key fingerprint the procuratorate publishes (also printed in part 6 of the note).

2. 核对清单签名 / Check the manifest's signature (Ed25519)
   openssl pkeyutl -verify -pubin -inkey ${PUBLIC_KEY} -rawin -in ${MANIFEST} -sigfile ${SIGNATURE}
   应输出 / must print: Signature Verified Successfully
   清单（${MANIFEST}）记载案件、人员、时间、中断情况和每个文件的大小与 SHA-256；任何改动都会使签名校验失败。
   The manifest states the case, people, times, gaps and every file's size and SHA-256; any change to it fails this check.

3. 核对校验和文件 / Check SHA256SUMS against the signed manifest
   sha256sum ${SUMS}
   结果应与 ${MANIFEST} 中 "sha256sumsSha256" 的值相同 / must equal "sha256sumsSha256" in ${MANIFEST}:
   grep sha256sumsSha256 ${MANIFEST}

4. 核对每个文件 / Check every file
   sha256sum -c ${SUMS}
   每一行均应为“OK”（或“成功”）/ every line must say OK.

以上四步全部通过，即证明本光盘内容与签名时完全一致。多张光盘的，每张分别校验；各盘清单的 "set" 列出全部文件及其所在光盘。
If all four steps pass, the disc is exactly what was signed. A set of several discs: check each disc; "set" in each manifest lists every file and its disc.
${rejoinText(splits)}
公钥指纹 / Key fingerprint: ${groupedFingerprint(fingerprint)}
`;
}

export function indexHtml(b: EvidenceBundle, discNumber: number, discCount: number, files: readonly PlannedFile[]): string {
  // A video carried in parts cannot be played from one disc: the page says so (the guide says how to rejoin it).
  const video = files.find((f) => f.source === 'evidence' && !f.part);
  const inParts = files.some((f) => f.source === 'evidence') && !video;
  const list = files
    .map((f) => `<li><a href="${encodeURI(f.discPath)}">${h(f.discPath)}</a> · ${h(sizeText(f.bytes))}</li>`)
    .join('');
  return `<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>${h(b.caseNumber)} 同步录音录像</title>
<style>body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:2em;max-width:1000px}video{width:100%;background:#000}</style></head>
<body>
<h1>${h(b.caseNumber)} · ${h(b.room.name)}</h1>
<p>光盘 ${discNumber} / ${discCount} · <a href="${encodeURI(NOTE_PDF)}">情况说明（PDF）</a> · <a href="${encodeURI(NOTE_HTML)}">情况说明（网页）</a> · <a href="${encodeURI(GUIDE)}">校验指南</a></p>
${video ? `<video controls preload="metadata" src="${encodeURI(video.discPath)}"></video>` : inParts ? `<p>证据视频大于一张光盘，分段刻录：本盘载有其中一段。合并方法见校验指南第 5 步。</p>` : `<p>本盘不含证据视频${discCount > 1 ? '，请见本套其他光盘' : ''}。</p>`}
<h2>本盘录像文件</h2><ul>${list}</ul>
</body></html>
`;
}
