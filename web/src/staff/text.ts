// Words of the staff board: its messages (merged into the global vue-i18n
// instance when the app's i18n set-up does not carry them yet), room names by
// language, and the translation of the server's reasons and error codes.
import { computed } from 'vue';
import { useI18n } from 'vue-i18n';
import { i18n, lang } from '../i18n';
import staffZhCN from '../i18n/staff.zh-CN';
import staffEn from '../i18n/staff.en';
import { ApiError, LAWYER_ROLES, SESSION_KINDS, STATUSES, type BookingStatus, type RejectReason, type Room } from './schedule-client';
import { hhmm } from './format';

/** Adds the `staff.*` messages to the global i18n unless they are there already (idempotent). */
export function ensureStaffMessages(): void {
  const g = i18n.global;
  if (!g.te('staff.title', 'zh-CN')) g.mergeLocaleMessage('zh-CN', staffZhCN);
  if (!g.te('staff.title', 'en')) g.mergeLocaleMessage('en', staffEn);
}

export function roomLabel(room: Pick<Room, 'name' | 'nameEn'> | undefined, fallback: string): string {
  if (!room) return fallback;
  return lang.value === 'en' ? room.nameEn || room.name : room.name;
}

/** Element Plus tag type for a status. */
export function statusTagType(status: BookingStatus): 'primary' | 'success' | 'warning' | 'info' | 'danger' {
  switch (status) {
    case 'scheduled':
      return 'primary';
    case 'escorting':
      return 'warning';
    case 'in_room':
    case 'in_session':
      return 'success';
    case 'no_show':
    case 'displaced':
      return 'danger';
    default:
      return 'info';
  }
}

export function useStaffText() {
  ensureStaffMessages();
  const { t, te } = useI18n();

  const reasonText = (reason: RejectReason | string): string => (te(`staff.reason.${reason}`) ? t(`staff.reason.${reason}`) : reason);
  const statusText = (status: BookingStatus | string): string => (te(`staff.status.${status}`) ? t(`staff.status.${status}`) : status);

  /** A failed request in words: conflicts by their reason, known codes translated, else the server's message. */
  const errorText = (error: unknown): string => {
    if (error instanceof ApiError) {
      if (error.reason) return t('staff.form.conflict', { reason: reasonText(error.reason) });
      if (te(`staff.error.${error.code}`)) {
        const known = t(`staff.error.${error.code}`);
        return error.code === 'bad_staff_id' ? known : `${known}（${error.message}）`;
      }
      return error.message;
    }
    return error instanceof Error ? error.message : String(error);
  };

  const historyText = (action: string): string => {
    if (action.startsWith('status.')) return t('staff.history.status', { status: statusText(action.slice(7)) });
    return te(`staff.history.${action}`) ? t(`staff.history.${action}`) : action;
  };

  const timeSpan = (start: number, end: number): string => `${hhmm(start)}–${hhmm(end)}`;

  /**
   * Words used once per booking (status, kind, lawyer role, field names),
   * translated once per language: a t() call is the dearest thing in
   * re-rendering 90 blocks and 90 queue rows on every push.
   */
  const labels = computed(() => {
    const map = <K extends string>(keys: readonly K[], prefix: string) =>
      Object.fromEntries(keys.map((k) => [k, t(`${prefix}.${k}`)])) as Record<K, string>;
    return {
      status: map(STATUSES, 'staff.status'),
      step: map(['escorting', 'in_room', 'finished', 'scheduled'] as const, 'staff.step'),
      kind: map(SESSION_KINDS, 'staff.kind'),
      kindShort: map(SESSION_KINDS, 'staff.kindShort'),
      lawyerRole: map(LAWYER_ROLES, 'staff.lawyerRole'),
      caseNumber: t('staff.field.caseNumber'),
      detaineeId: t('staff.field.detaineeId'),
      prosecutorId: t('staff.field.prosecutorId'),
    };
  });

  return { t, te, reasonText, statusText, errorText, historyText, timeSpan, labels };
}
