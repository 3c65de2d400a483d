// Words of the evidence clerk page: its messages (merged into the global
// vue-i18n instance once), the translation of the server's states, reasons and
// error codes, and small formatting helpers.
import { useI18n } from 'vue-i18n';
import { i18n, lang } from '../i18n';
import evidenceZhCN from '../i18n/evidence.zh-CN';
import evidenceEn from '../i18n/evidence.en';
import { ApiError, type ActionState, type EvidenceState } from './evidence-client';

/** Adds the `evidence.*` messages to the global i18n unless they are there already (idempotent). */
export function ensureEvidenceMessages(): void {
  const g = i18n.global;
  if (!g.te('evidence.title', 'zh-CN')) g.mergeLocaleMessage('zh-CN', evidenceZhCN);
  if (!g.te('evidence.title', 'en')) g.mergeLocaleMessage('en', evidenceEn);
}

export function stateTagType(state: EvidenceState): 'primary' | 'success' | 'warning' | 'info' | 'danger' {
  switch (state) {
    case 'with_gaps':
      return 'warning';
    case 'rendering':
    case 'recording':
      return 'primary';
    case 'burned':
    case 'sealed':
      return 'success';
    default:
      return 'info';
  }
}

/** 1536 → '1.5 KiB'. */
export function bytesText(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** ISO instant → local date and time to the second. */
export function timeText(iso: string | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(lang.value === 'en' ? 'en-GB' : 'zh-CN', { hour12: false });
}

/** Length between two instants as H:MM:SS ('—' while open). */
export function durationText(from: string, to: string | null): string {
  if (!to) return '—';
  const s = Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000));
  const h = Math.floor(s / 3600);
  return `${h}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

export function useEvidenceText() {
  ensureEvidenceMessages();
  const { t, te } = useI18n();

  const stateText = (state: string): string => (te(`evidence.state.${state}`) ? t(`evidence.state.${state}`) : state);
  const blockedText = (a: ActionState): string => (a.blockedBy ? t(`evidence.blocked.${a.blockedBy}`) : '');
  const custodyKindText = (kind: string): string => (te(`evidence.custody.kinds.${kind}`) ? t(`evidence.custody.kinds.${kind}`) : kind);
  const copyText = (copy: string | null): string => (copy ? (te(`evidence.copy.${copy}`) ? t(`evidence.copy.${copy}`) : copy) : '—');

  /** A failed request in words: known reasons translated, with the server's message beside. */
  const errorText = (error: unknown): string => {
    if (error instanceof ApiError) {
      if (te(`evidence.blocked.${error.code}`)) return `${t(`evidence.blocked.${error.code}`)}（${error.message}）`;
      return error.message;
    }
    return error instanceof Error ? error.message : String(error);
  };

  return { t, te, stateText, blockedText, custodyKindText, copyText, errorText };
}
