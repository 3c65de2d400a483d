// The explanatory note (情况说明) of a booking, in Chinese: HTML, and PDF
// printed by Debian's Chromium through playwright-core. The same facts always
// give the same bytes: the HTML is a pure function of the bundle, the PDF's
// two time stamps are set to the recording's end, and a PDF is stored beside
// its HTML's hash and reused, so a later Chromium cannot change a rebuilt disc.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { EvidenceBundle } from './bundle.js';
import { groupedFingerprint } from './evidence-key.js';
import {
  durationText, escapeHtml as h, LAWYER_ZH, localTime, PRIORITY_ZH, ROLE_ZH, SESSION_KIND_ZH, sizeText, SOURCE_ZH, STATUS_ZH,
} from './wording.js';

export const NOTE_HTML = '情况说明.html';
export const NOTE_PDF = '情况说明.pdf';

export interface NoteContext {
  /** Disc number of each recorded file (by disc path), and the number of discs. */
  discOf: ReadonlyMap<string, number>;
  /** Files larger than one disc: the discs holding their parts, in order. */
  partDiscs?: ReadonlyMap<string, readonly number[]>;
  discCount: number;
  mediumLabel: string;
  fingerprint: string;
}

const STYLE = `
  @page { size: A4; margin: 18mm 16mm; }
  body { font-family: 'Noto Serif CJK SC', 'Noto Sans CJK SC', serif; font-size: 10.5pt; color: #000; line-height: 1.5; }
  h1 { text-align: center; font-size: 18pt; margin: 0 0 4mm; }
  h2 { font-size: 12pt; margin: 6mm 0 2mm; border-bottom: 1px solid #444; }
  table { border-collapse: collapse; width: 100%; }
  th, td { border: 1px solid #666; padding: 1mm 1.5mm; text-align: left; vertical-align: top; }
  th { background: #eee; font-weight: bold; }
  td.hash, .mono { font-family: 'Noto Sans Mono CJK SC', monospace; font-size: 7.5pt; word-break: break-all; }
  .sub { text-align: center; color: #333; }
  .ok { color: #060; } .bad { color: #a00; font-weight: bold; }
`;

function row(label: string, value: string): string {
  return `<tr><th style="width:28%">${h(label)}</th><td>${value}</td></tr>`;
}

export function renderNoteHtml(b: EvidenceBundle, ctx: NoteContext): string {
  const tz = b.scheduled.timeZone;
  const t = (iso: string | null) => (iso ? h(localTime(iso, tz)) : '—');
  const interruptions = b.gaps;
  const parties = b.parties
    .map((p) => {
      const times = p.attendance.length
        ? p.attendance.map((a) => `${t(a.joinedAt)} 至 ${t(a.leftAt)}${a.leaveReason ? `（${h(a.leaveReason)}）` : ''}`).join('<br>')
        : '未进入会见';
      return `<tr><td>${h(ROLE_ZH[p.role])}</td><td>${h(p.who)}</td><td>${h(p.displayName)}</td><td>${times}</td></tr>`;
    })
    .join('');
  const statuses = b.statusHistory
    .map((s) => `<tr><td>${h(STATUS_ZH[s.status] ?? s.status)}</td><td>${t(s.at)}</td><td>${h(s.actor)}</td></tr>`)
    .join('');
  const gaps = interruptions.length
    ? `<table><tr><th>记录</th><th>轨道</th><th>开始</th><th>结束</th><th>时长</th><th>原因</th><th>该时段由何记录覆盖</th></tr>${interruptions
        .map(
          (g) =>
            `<tr><td>${h(SOURCE_ZH[g.source])}</td><td>${h(g.track ?? '全部轨道')}</td><td>${t(g.startedAt)}</td><td>${t(g.endedAt)}</td><td>${h(
              durationText(g.startedAt, g.endedAt)
            )}</td><td>${h(g.causeText.zh)}</td><td class="${g.coveredBy === 'none' ? 'bad' : ''}">${h(SOURCE_ZH[g.coveredBy])}</td></tr>`
        )
        .join('')}</table>`
    : '<p class="ok">录制全程未发生中断。</p>';
  const discText = (p: string): string => {
    const parts = ctx.partDiscs?.get(p);
    if (parts) return h(`分${parts.length}段：第${[...new Set(parts)].join('、')}张`);
    return ctx.discCount > 1 ? `第${ctx.discOf.get(p) ?? '?'}张` : '本盘';
  };
  const files = b.files
    .map(
      (f) =>
        `<tr><td>${h(f.discPath)}</td><td>${discText(f.discPath)}</td><td>${h(
          f.source === 'evidence' ? '证据视频' : `原始录像 ${f.track}`
        )}</td><td>${t(f.startedAt)}<br>${t(f.endedAt)}</td><td>${h(sizeText(f.bytes))}<br>${f.bytes} 字节</td><td class="hash">${h(f.sha256)}</td></tr>`
    )
    .join('');
  return `<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>同步录音录像情况说明 ${h(b.caseNumber)}</title><style>${STYLE}</style></head>
<body>
<h1>同步录音录像情况说明</h1>
<p class="sub">${h(b.siteName)}</p>
<h2>一、案件与会见</h2>
<table>
${row('案号', h(b.caseNumber))}
${row('预约编号', h(b.bookingId))}
${row('会见类型', h(SESSION_KIND_ZH[b.sessionKind]))}
${row('请求单位', `${h(b.procuratorateId)}（${h(PRIORITY_ZH[b.priorityClass])}）`)}
${row('地点', `${h(b.room.name)}（${h(b.room.id)}）`)}
${row('预约时段', `${h(b.scheduled.date)} ${h(b.scheduled.start)} 至 ${h(b.scheduled.end)}（${h(tz)}）`)}
${row('在押人员', h(b.detaineeId))}
${row('承办检察官', h(b.prosecutorId))}
${row(LAWYER_ZH[b.lawyer.role], h(b.lawyer.id))}
${row('录制开始', t(b.recording.startedAt))}
${row('录制结束', t(b.recording.endedAt))}
${row('录制时长', h(durationText(b.recording.startedAt, b.recording.endedAt)))}
${row('画面时间基准', `证据视频画面叠加的时间取自会见时钟，起点 ${t(b.recording.sessionClockOrigin)}`)}
</table>
<h2>二、参加人员及在场时间</h2>
<table><tr><th>身份</th><th>人员</th><th>会见中显示名称</th><th>进入至离开</th></tr>${parties}</table>
<h2>三、提解与还押时间（取自现场状态记录）</h2>
${statuses ? `<table><tr><th>状态</th><th>时间</th><th>操作人</th></tr>${statuses}</table>` : '<p>无状态记录。</p>'}
<h2>四、录制中断情况</h2>
<p>本次会见有两种相互独立的记录：服务器保存的各方原始分轨录像（未转码），以及讯问室终端实时合成的画中画证据视频。任一记录中断时，由另一记录覆盖该时段。</p>
${gaps}
<h2>五、文件清单</h2>
<p>共 ${b.files.length} 个录像文件，分刻于 ${ctx.discCount} 张${h(ctx.mediumLabel)}光盘。各段原始录像按顺序构成哈希链，链头：<span class="mono">${h(b.segmentChain.head)}</span>（${
    b.segmentChain.intact ? '<span class="ok">校验完整</span>' : '<span class="bad">校验不一致</span>'
  }）。</p>
<table><tr><th>文件</th><th>光盘</th><th>内容</th><th>起止时间</th><th>大小</th><th>SHA-256</th></tr>${files}</table>
<h2>六、电子签名与校验</h2>
<p>每张光盘的 manifest.json 由本院证据签名密钥（Ed25519）签名，签名为 manifest.json.sig，公钥为 evidence-key.pub.pem。公钥指纹（SHA-256）：</p>
<p class="mono" style="font-size:10pt">${h(groupedFingerprint(ctx.fingerprint))}</p>
<p>校验方法见光盘中的《校验指南.txt》，仅需 sha256sum 与 openssl 等通用工具。</p>
<p style="margin-top:10mm">刻录人：____________ &nbsp;&nbsp; 封存见证人：____________ &nbsp;&nbsp; 日期：____________</p>
</body></html>
`;
}

/** Launches Debian's Chromium (never a download) and prints the HTML as A4. */
export async function printPdf(html: string, chromiumPath: string): Promise<Buffer> {
  if (!existsSync(chromiumPath)) throw new Error(`Chromium not found at ${chromiumPath}: run "npm run setup" as root (installs Debian's chromium)`);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage();
    await page.setContent(html, { waitUntil: 'load' });
    await page.evaluate(async () => { await document.fonts.ready; });
    return await page.pdf({ format: 'A4', printBackground: true, preferCSSPageSize: true });
  } finally {
    await browser.close();
  }
}

/** Chromium stamps the print time in /CreationDate and /ModDate: replace both with a fixed instant, same length, so no offset moves. */
export function fixPdfDates(pdf: Buffer, at: Date): Buffer {
  const stamp = `D:${at.toISOString().replace(/[-:T]/g, '').slice(0, 14)}+00'00'`;
  const text = pdf.toString('latin1');
  const fixed = text.replace(/\/(CreationDate|ModDate) \(D:\d{14}[+\-Z][^)]*\)/g, (m, key: string) => {
    const replacement = `/${key} (${stamp})`;
    return replacement.length === m.length ? replacement : m;
  });
  return Buffer.from(fixed, 'latin1');
}

/**
 * The note's PDF: printed once per distinct HTML and stored in `storeDir`
 * (named by the HTML's SHA-256); a rebuild of the same booking reuses it.
 */
export async function notePdf(html: string, storeDir: string, fixedDate: Date, chromiumPath: string): Promise<{ pdf: Buffer; reused: boolean }> {
  const key = createHash('sha256').update(html).digest('hex');
  const file = path.join(storeDir, `note-${key}.pdf`);
  if (existsSync(file)) return { pdf: readFileSync(file), reused: true };
  const pdf = fixPdfDates(await printPdf(html, chromiumPath), fixedDate);
  mkdirSync(storeDir, { recursive: true });
  writeFileSync(`${file}.part`, pdf);
  renameSync(`${file}.part`, file);
  return { pdf, reused: false };
}
