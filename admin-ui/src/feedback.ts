// What the user is told: a polite live region for results, an alert area per form for errors, API errors in words.
import { ApiError } from './api.js';
import { h } from './dom.js';
import { count, known, t, type Key } from './i18n.js';

let statusRegion: HTMLElement | null = null;

/** The one live region (role=status) screen readers announce; it survives screen changes. */
export function statusElement(): HTMLElement {
  statusRegion ??= h('div', { class: 'status', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
  return statusRegion;
}

let clearTimer: ReturnType<typeof setTimeout> | undefined;

/** A short success message at the top, announced, gone after a while. */
export function announce(message: string): void {
  const region = statusElement();
  region.textContent = '';
  // a fresh text node, so the same message twice is announced twice
  region.append(h('p', null, message));
  region.classList.add('visible');
  clearTimeout(clearTimer);
  clearTimer = setTimeout(() => {
    region.textContent = '';
    region.classList.remove('visible');
  }, 8000);
}

/** Empties the status line (when one person logs out and the next logs in). */
export function clearAnnouncement(): void {
  clearTimeout(clearTimer);
  statusElement().textContent = '';
  statusElement().classList.remove('visible');
}

/** Minutes (rounded up) until a locked login may try again. */
const minutesOf = (seconds: number | undefined) => Math.max(1, Math.ceil((seconds ?? 60) / 60));

/**
 * An API error in the UI's language: by code, or by field and rule for the refusals the UI knows; otherwise the
 * API's own (English) message.
 */
export function describeError(err: unknown): string {
  if (!(err instanceof ApiError)) return t('error.unexpected', { message: err instanceof Error ? err.message : String(err) });
  if (err.code === 'locked') return t('error.locked', { minutes: count('minutes', minutesOf(err.retryAfter)) });
  if (err.code === 'delivery_refused') return t('error.delivery_refused', { reply: err.reply ?? err.message });
  if (err.violations?.length) return t('password.refused', { rules: err.violations.map((v) => ruleText(v.rule) ?? v.message).join('; ') });
  const byRule = err.field && err.rule ? known(`error.${err.field}.${err.rule}`) : null;
  if (byRule) return t(byRule);
  const byCode = known(`error.${err.code}`);
  if (byCode) return t(byCode);
  return err.message;
}

/** A password rule in words (the live checklist and the server's refusal use the same sentences). */
export function ruleText(rule: string, params: Record<string, string | number> = {}): string | null {
  const key = known(`password.rule.${rule}`);
  return key ? t(key as Key, params) : null;
}

/** An alert line for a form: shows an error (announced at once by role=alert) or nothing. */
export function errorArea(): { element: HTMLElement; show(err: unknown): void; clear(): void } {
  const element = h('div', { class: 'form-error', role: 'alert', hidden: true });
  return {
    element,
    show(err) {
      element.textContent = typeof err === 'string' ? err : describeError(err);
      element.hidden = false;
    },
    clear() {
      element.textContent = '';
      element.hidden = true;
    }
  };
}
