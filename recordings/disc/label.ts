// The printable label for a disc's case: case, room, date, disc n of N, master
// or working copy, the image's SHA-256 and the evidence key's fingerprint.
import type { DiscCopy, DiscImageRow } from './custody.js';
import { groupedFingerprint } from './evidence-key.js';
import { escapeHtml as h } from './wording.js';

export function renderLabelHtml(l: {
  caseNumber: string; bookingId: string; roomName: string; date: string; disc: DiscImageRow; copy: DiscCopy; fingerprint: string; siteName: string;
}): string {
  return `<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>光盘标签 ${h(l.caseNumber)}</title>
<style>@page{size:120mm 120mm;margin:6mm}body{font-family:'Noto Sans CJK SC',sans-serif;font-size:10pt}
.box{border:1px solid #000;padding:4mm;width:104mm}h1{font-size:14pt;margin:0 0 2mm}.mono{font-family:monospace;font-size:7pt;word-break:break-all}</style></head>
<body><div class="box">
<h1>${l.copy === 'master' ? '原件（封存）' : '工作副本'} · 第${l.disc.discNo}/${l.disc.discCount}张</h1>
<p>${h(l.siteName)}</p>
<p>案号：${h(l.caseNumber)}<br>预约编号：${h(l.bookingId)}<br>地点：${h(l.roomName)}<br>日期：${h(l.date)}</p>
<p>镜像 SHA-256：<br><span class="mono">${h(l.disc.sha256)}</span></p>
<p>签名公钥指纹：<br><span class="mono">${h(groupedFingerprint(l.fingerprint))}</span></p>
<p>刻录人：________ 见证人：________ 封存时间：________</p>
</div></body></html>
`;
}
