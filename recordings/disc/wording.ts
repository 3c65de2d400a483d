// Chinese wording and local-time formatting shared by the note, the guide, the
// index page and the disc-case label.
import type { BundleParty, BundleSource, EvidenceBundle } from './bundle.js';

export const ROLE_ZH: Readonly<Record<BundleParty['role'], string>> = {
  room: '在押人员（讯问室）',
  prosecutor: '检察官',
  lawyer: '律师',
  guest: '其他参加人',
};

export const SESSION_KIND_ZH: Readonly<Record<EvidenceBundle['sessionKind'], string>> = {
  arraignment: '提讯',
  plea_hearing: '认罪认罚具结',
  bail_hearing: '取保候审听证',
};

export const PRIORITY_ZH: Readonly<Record<EvidenceBundle['priorityClass'], string>> = {
  district: '本院',
  higher: '上级院',
  sibling: '兄弟院',
};

export const LAWYER_ZH: Readonly<Record<EvidenceBundle['lawyer']['role'], string>> = { duty: '值班律师', defence: '辩护律师' };

export const SOURCE_ZH: Readonly<Record<BundleSource | 'none', string>> = {
  original: '服务器原始分轨录像',
  evidence: '画中画证据视频',
  none: '无（两种记录同时中断）',
};

export const STATUS_ZH: Readonly<Record<string, string>> = {
  escorting: '提出监室（押解中）',
  in_room: '到达讯问室',
  in_session: '远程会见开始',
  finished: '会见结束（还押）',
  no_show: '未到场',
  cancelled: '取消',
};

/** "2026-12-01 14:03:05" in the site's time zone; deterministic for a given instant. */
export function localTime(iso: string, timeZone: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  }).formatToParts(d);
  const p = (t: string) => parts.find((x) => x.type === t)?.value ?? '';
  return `${p('year')}-${p('month')}-${p('day')} ${p('hour')}:${p('minute')}:${p('second')}`;
}

export function durationText(fromIso: string, toIso: string | null): string {
  if (!toIso) return '未结束';
  const s = Math.max(0, Math.round((Date.parse(toIso) - Date.parse(fromIso)) / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h ? `${h}小时${m}分${sec}秒` : m ? `${m}分${sec}秒` : `${sec}秒`;
}

export function sizeText(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}
