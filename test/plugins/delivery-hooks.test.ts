// The outbound notification hooks: a message submitted to three recipients of a remote domain (its MX an
// smtp-server on loopback, found through the loopback DNS server) tells plugins delivered, deferred and bounced
// per recipient with the remote reply; a plugin that throws there changes nothing about the delivery.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePlugin, type DeliveryReport, type HookName } from '../../server/plugins/index.js';
import { startHarness, type Harness } from '../../server/plugins/testing.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { routeDomainTo, startRemoteMx, type RemoteMx } from '../helpers/remote-mx.js';
import { eventually } from '../helpers/smtp-wire.js';

const reports: Array<DeliveryReport & { hook: HookName }> = [];
const recorder = definePlugin({
  name: 'recorder',
  register(_fastify, plugin) {
    for (const hook of ['delivered', 'deferred', 'bounced'] as const) plugin.hook(hook, ({ delivery }) => void reports.push({ hook, ...delivery }));
  }
});
const thrower = definePlugin({
  name: 'thrower',
  register(_fastify, plugin) {
    plugin.hook('delivered', () => {
      throw new Error('notification plugin bug');
    });
  }
});

let dns: TestDnsServer;
let remote: RemoteMx;
let harness: Harness;

beforeAll(async () => {
  dns = await startDnsServer({});
  routeDomainTo(dns, 'remote.test');
  remote = await startRemoteMx();
  remote.onRcpt = (rcpt) => (rcpt.startsWith('later') ? { code: 451, text: '4.3.2 Not now' } : rcpt.startsWith('gone') ? { code: 550, text: '5.1.1 No such user' } : null);
  harness = await startHarness({ plugins: [thrower, recorder], submission: true, dnsServers: [dns.address], settings: { 'queue.remotePort': remote.port, 'queue.retryDelay': 600 } });
});
afterAll(async () => {
  await harness?.close();
  await remote?.close();
  await dns?.close();
});

describe('delivered, deferred and bounced', () => {
  it('tell plugins the outcome per recipient with the remote reply, after the attempt is recorded', async () => {
    const t = await harness.send({ auth: { user: 'info@example.test' }, to: ['ok@remote.test', 'later@remote.test', 'gone@remote.test'] });
    expect(t.accepted).toBe(true);
    expect(await eventually(() => reports.length === 3, 15_000)).toBe(true);
    const byRecipient = Object.fromEntries(reports.map((r) => [r.recipient, r]));
    const common = { origin: 'submission', sender: 'info@example.test', attempt: 1, remoteMta: 'mx.remote.test' };
    expect(byRecipient['ok@remote.test']).toMatchObject({ ...common, hook: 'delivered', status: 'delivered', reply: expect.stringMatching(/^250 /) });
    expect(byRecipient['later@remote.test']).toEqual({ ...common, recipient: 'later@remote.test', hook: 'deferred', status: 'deferred', reply: '451 4.3.2 Not now', entryId: byRecipient['ok@remote.test'].entryId });
    expect(byRecipient['gone@remote.test']).toMatchObject({ ...common, hook: 'bounced', status: 'failed', reply: '550 5.1.1 No such user' });
    // the delivery itself went ahead although the first plugin on `delivered` threw
    expect(remote.received.map((r) => r.to)).toEqual([['ok@remote.test']]);
  });
});
