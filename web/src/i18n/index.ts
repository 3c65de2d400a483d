// vue-i18n set-up: Chinese by default, English on demand; the choice persists
// in localStorage `plea.lang` and Element Plus's locale follows it.
import { computed, type WritableComputedRef } from 'vue';
import { createI18n } from 'vue-i18n';
import elZhCn from 'element-plus/es/locale/lang/zh-cn';
import elEn from 'element-plus/es/locale/lang/en';
import zhCN, { type MessageSchema } from './zh-CN';
import en from './en';
import staffZhCN from './staff.zh-CN';
import staffEn from './staff.en';
import guestZhCN from './guest.zh-CN';
import guestEn from './guest.en';

export type Lang = 'zh-CN' | 'en';
export const LANGS: readonly Lang[] = ['zh-CN', 'en'];
const STORAGE_KEY = 'plea.lang';

function storedLang(): Lang {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    if (value === 'en' || value === 'zh-CN') return value;
  } catch {
    // storage disabled: default
  }
  return 'zh-CN';
}

export const i18n = createI18n<[MessageSchema], Lang, false>({
  legacy: false,
  locale: storedLang(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': { ...zhCN, ...staffZhCN, ...guestZhCN }, en: { ...en, ...staffEn, ...guestEn } },
});

document.documentElement.lang = i18n.global.locale.value;

/** The current language; setting it persists the choice. */
export const lang: WritableComputedRef<Lang> = computed({
  get: () => i18n.global.locale.value,
  set: (value: Lang) => {
    i18n.global.locale.value = value;
    document.documentElement.lang = value;
    try {
      localStorage.setItem(STORAGE_KEY, value);
    } catch {
      // storage disabled: the choice lasts for this page only
    }
  },
});

export const elementLocale = computed(() => (lang.value === 'en' ? elEn : elZhCn));
