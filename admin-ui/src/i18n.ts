// German and English: the language comes from the browser's list unless the user picked one (kept in localStorage).
import { de } from './strings/de.js';
import { en, type Key } from './strings/en.js';

export type { Key };
export type Language = 'de' | 'en';

export const LANGUAGES: Record<Language, string> = { de: 'Deutsch', en: 'English' };
const TABLES: Record<Language, Record<Key, string>> = { de, en };
const STORAGE_KEY = 'postfach.language';

let current: Language = 'en';

function stored(): Language | null {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return value === 'de' || value === 'en' ? value : null;
  } catch {
    return null; // storage blocked: follow the browser
  }
}

/** The first of the browser's languages the UI speaks; English otherwise. */
export function browserLanguage(languages: readonly string[] = navigator.languages ?? [navigator.language]): Language {
  for (const tag of languages) {
    const primary = tag.toLowerCase().split('-')[0];
    if (primary === 'de' || primary === 'en') return primary;
  }
  return 'en';
}

export function initLanguage(): Language {
  current = stored() ?? browserLanguage();
  document.documentElement.lang = current;
  return current;
}

export function language(): Language {
  return current;
}

export function setLanguage(next: Language): void {
  current = next;
  document.documentElement.lang = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    /* not kept: the choice lasts for this page */
  }
}

/** The text for a key with {placeholders} filled in. */
export function t(key: Key, params: Record<string, string | number> = {}): string {
  const text = TABLES[current][key] ?? en[key];
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/** "1 message" / "5 messages" in the current language (Intl plural rules; both languages need only one/other). */
export function count(noun: 'messages' | 'accounts' | 'minutes', n: number): string {
  const form = new Intl.PluralRules(current).select(n) === 'one' ? 'one' : 'other';
  return t(`count.${noun}.${form}`, { n: formatNumber(n) });
}

/** A key when the table has it (API codes the UI knows), otherwise null. */
export function known(key: string): Key | null {
  return key in en ? (key as Key) : null;
}

const unitsOf = (lang: Language) => (lang === 'de' ? ['Bytes', 'KB', 'MB', 'GB', 'TB'] : ['bytes', 'KB', 'MB', 'GB', 'TB']);

/** 1,5 MB / 1.5 MB (powers of 1024, as mail clients show sizes). */
export function formatBytes(bytes: number): string {
  const units = unitsOf(current);
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${new Intl.NumberFormat(current, { maximumFractionDigits: digits }).format(value)} ${units[unit]}`;
}

export function formatDateTime(ms: number): string {
  return new Intl.DateTimeFormat(current, { dateStyle: 'medium', timeStyle: 'medium' }).format(new Date(ms));
}

export function formatTime(ms: number): string {
  return new Intl.DateTimeFormat(current, { timeStyle: 'medium' }).format(new Date(ms));
}

export function formatNumber(n: number): string {
  return new Intl.NumberFormat(current).format(n);
}
