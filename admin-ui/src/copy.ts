// Copy buttons: the Clipboard API where the page is a secure context, a selected text field otherwise (plain http on
// the LAN, where navigator.clipboard does not exist).
import { h } from './dom.js';
import { announce } from './feedback.js';
import { t } from './i18n.js';

async function copyText(text: string): Promise<boolean> {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      /* denied: try the old way */
    }
  }
  const area = h('textarea', { value: text, readOnly: true, class: 'offscreen', 'aria-hidden': 'true', tabIndex: -1 });
  document.body.append(area);
  area.select();
  const done = document.execCommand('copy');
  area.remove();
  return done;
}

/** A button copying `text`; its label names what it copies for screen readers ("Copy value of DKIM"). */
export function copyButton(text: string, what: string): HTMLButtonElement {
  const el = h('button', { type: 'button', class: 'btn copy', 'aria-label': t('copy.label', { what }) }, t('copy.button'));
  el.addEventListener('click', async () => {
    const done = await copyText(text);
    el.textContent = done ? t('copy.done') : t('copy.failed');
    announce(done ? t('copy.announce', { what }) : t('copy.failed'));
    setTimeout(() => (el.textContent = t('copy.button')), 2000);
  });
  return el;
}

/** A value shown in monospace with its copy button. */
export function copyable(text: string, what: string): HTMLElement {
  return h('div', { class: 'copyable' }, h('code', null, text), copyButton(text, what));
}
