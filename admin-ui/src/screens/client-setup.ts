// What to enter in a mail program for one account (IMAP, POP3, SMTP: server, port, encryption, user name), and a
// test message sent through the MX whose arrival in the mailbox is shown.
import { api, ApiError, seg, type AccountDetail, type ClientServer, type ClientSettings, type TestMail } from '../api.js';
import type { Screen } from '../app.js';
import { copyable } from '../copy.js';
import { button, fill, h, section } from '../dom.js';
import { describeError } from '../feedback.js';
import { formatTime, t } from '../i18n.js';
import { accountHref, backLink, heading } from './common.js';

const PROTOCOL = { imap: 'IMAP', pop3: 'POP3', smtp: 'SMTP' } as const;
/** How long the page keeps asking whether the test message arrived. */
const WAIT_MS = 30_000;
const POLL_MS = 1_000;

function serverCard(server: ClientServer, recommended: boolean): HTMLElement {
  const title = `${PROTOCOL[server.protocol]} · ${server.security === 'tls' ? 'SSL/TLS' : 'STARTTLS'}`;
  return h(
    'article',
    { class: 'record' },
    h('h3', null, title, recommended ? h('span', { class: 'badge info' }, t('client.recommended')) : null),
    h(
      'dl',
      null,
      h('dt', null, t('client.server')),
      h('dd', null, copyable(server.host, t('client.copyServer', { protocol: PROTOCOL[server.protocol] }))),
      h('dt', null, t('client.port')),
      h('dd', null, h('code', null, String(server.port))),
      h('dt', null, t('client.encryption')),
      h('dd', null, server.security === 'tls' ? t('client.tls') : t('client.starttls')),
      h('dt', null, t('client.username')),
      h('dd', null, copyable(server.username, t('client.copyUser', { protocol: PROTOCOL[server.protocol] }))),
      h('dt', null, t('client.password')),
      h('dd', null, t('client.passwordText')),
      h('dt', null, t('client.authentication')),
      h('dd', null, t('client.normalPassword'))
    )
  );
}

function group(title: string, servers: ClientServer[], intro: string): HTMLElement {
  // implicit TLS first (RFC 8314); within incoming, IMAP before POP3 (folders and several devices)
  const sorted = [...servers].sort((a, b) => (a.protocol === b.protocol ? (a.security === 'tls' ? -1 : 1) : a.protocol === 'imap' ? -1 : 1));
  return section(title, h('p', null, intro), servers.length ? h('div', { class: 'records' }, sorted.map((s, i) => serverCard(s, i === 0))) : h('p', { class: 'empty' }, t('client.none')));
}

function testMailSection(detail: AccountDetail): HTMLElement {
  const address = detail.account.address;
  const result = h('div', { class: 'test-result', 'aria-live': 'polite' });
  const sendButton = button(t('test.send'), () => void send(), 'primary');

  async function send(): Promise<void> {
    sendButton.disabled = true;
    result.replaceChildren(h('p', { class: 'loading' }, t('test.sending')));
    try {
      let mail = await api<TestMail>('POST', `/accounts/${seg(address)}/test-mail`);
      const sentAt = mail.sentAt!;
      const sentLine = h('p', null, t('test.sent', { time: formatTime(sentAt) }));
      result.replaceChildren(sentLine, h('p', { class: 'loading' }, t('test.waiting')));
      const deadline = Date.now() + WAIT_MS;
      // stops when it arrived, after WAIT_MS, or when the user left the page
      while (!mail.arrived && Date.now() < deadline && result.isConnected) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        mail = await api<TestMail>('GET', `/accounts/${seg(address)}/test-mail/${seg(mail.id)}`);
      }
      if (mail.arrived) {
        const seconds = Math.max(0, (mail.arrived.at - sentAt) / 1000).toFixed(1);
        fill(result, sentLine, h('p', { class: 'notice ok' }, t('test.arrived', { time: formatTime(mail.arrived.at), folder: mail.arrived.folder, seconds })), mail.arrived.folder === 'Junk' && h('p', { class: 'notice' }, t('test.junk')));
      } else {
        const forwardOnly = detail.forward && !detail.forward.keepCopy;
        result.replaceChildren(sentLine, h('p', { class: 'notice' }, forwardOnly ? t('test.forwarded', { destinations: detail.forward!.destinations.join(', ') }) : t('test.notArrived')));
      }
    } catch (err) {
      result.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, err instanceof ApiError && err.code === 'delivery_refused' ? t('error.delivery_refused', { reply: err.reply ?? err.message }) : describeError(err)));
    } finally {
      sendButton.disabled = false;
    }
  }

  return section(t('test.title'), h('p', null, t('test.intro', { address })), h('div', { class: 'actions start' }, sendButton), result);
}

export const clientSetupScreen: Screen = {
  path: '/accounts/:address/setup',
  async render(_ctx, params) {
    const [settings, detail] = await Promise.all([
      api<ClientSettings>('GET', `/accounts/${seg(params.address)}/client-settings`),
      api<AccountDetail>('GET', `/accounts/${seg(params.address)}`)
    ]);
    return [
      backLink(accountHref(settings.address), settings.address),
      ...heading(t('client.title', { address: settings.address }), t('client.intro')),
      detail.account.active ? null : h('p', { class: 'notice' }, t('client.inactive')),
      group(t('client.incoming'), settings.incoming, t('client.incomingIntro')),
      group(t('client.outgoing'), settings.outgoing, t('client.outgoingIntro')),
      testMailSection(detail)
    ].filter(Boolean) as Node[];
  }
};
