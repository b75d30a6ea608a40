// Modal dialogs on <dialog>: focus moves into the dialog, Escape cancels, focus returns to what opened it.
import { button, h, uniqueId } from './dom.js';
import { describeError } from './feedback.js';
import { t } from './i18n.js';

export interface ConfirmOptions {
  title: string;
  message: (string | Node)[];
  confirm: string;
  danger?: boolean;
  /** the user must type this (e.g. the address) before the confirm button works */
  typeToConfirm?: string;
  /** runs on confirm; an error keeps the dialog open and shows the error */
  action?: () => Promise<void>;
}

/** Resolves true when confirmed (and the action succeeded), false when cancelled. */
export function confirmDialog(options: ConfirmOptions): Promise<boolean> {
  const opener = document.activeElement as HTMLElement | null;
  const titleId = uniqueId('dlg');
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const confirmButton = button(options.confirm, () => undefined, options.danger ? 'danger' : 'primary');
  let typed: HTMLInputElement | null = null;
  const body: Node[] = options.message.map((m) => (typeof m === 'string' ? h('p', null, m) : m));
  if (options.typeToConfirm) {
    const expected = options.typeToConfirm;
    typed = h('input', { type: 'text', id: uniqueId('confirm'), autocomplete: 'off', spellcheck: false, autocapitalize: 'none' });
    confirmButton.disabled = true;
    typed.addEventListener('input', () => (confirmButton.disabled = typed!.value.trim().toLowerCase() !== expected.toLowerCase()));
    body.push(h('div', { class: 'field' }, h('label', { for: typed.id }, t('dialog.typeToConfirm', { text: expected })), typed));
  }
  const cancelButton = button(t('common.cancel'), () => dialog.close('cancel'), 'secondary');
  const dialog = h(
    'dialog',
    { 'aria-labelledby': titleId, class: options.danger ? 'danger' : '' },
    h('h2', { id: titleId }, options.title),
    ...body,
    error,
    h('div', { class: 'actions' }, cancelButton, confirmButton)
  );
  document.body.append(dialog);
  return new Promise((resolve) => {
    let confirmed = false;
    confirmButton.addEventListener('click', async () => {
      confirmButton.disabled = true;
      try {
        await options.action?.();
        confirmed = true;
        dialog.close('confirm');
      } catch (err) {
        error.textContent = describeError(err);
        error.hidden = false;
        confirmButton.disabled = false;
      }
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener?.isConnected) opener.focus();
      resolve(confirmed);
    });
    dialog.showModal();
    // the safe choice has the focus unless the user must type first
    (typed ?? cancelButton).focus();
  });
}

/** A dialog around a form the caller builds (password reset, new token); resolves when it closes. */
export function formDialog(title: string, build: (close: () => void) => Node[]): Promise<void> {
  const opener = document.activeElement as HTMLElement | null;
  const titleId = uniqueId('dlg');
  const dialog = h('dialog', { 'aria-labelledby': titleId });
  const close = () => dialog.close();
  dialog.append(h('h2', { id: titleId }, title), ...build(close));
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener?.isConnected) opener.focus();
      resolve();
    });
    dialog.showModal();
    dialog.querySelector<HTMLElement>('input, select, textarea, button')?.focus();
  });
}
