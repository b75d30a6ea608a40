// The bundled `limits` plugin against real SMTP connections from several loopback addresses: concurrent connections,
// connections and messages per minute (with an injected clock), the allow-list, the submission exemption, the
// bounded memory, and its admin route.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../server/plugins/testing.js';
import { RateCounter } from '../../plugins/limits/index.js';
import { SmtpWire, eventually } from '../helpers/smtp-wire.js';

const INFO = 'info@example.test';
let harness: Harness;
let clock = Date.UTC(2026, 11, 1, 12, 0, 10);

beforeAll(async () => {
  harness = await startHarness({
    plugins: ['limits'],
    settings: {
      'plugins.limits.concurrency': 2,
      'plugins.limits.connectionsPerMinute': 4,
      'plugins.limits.messagesPerMinute': 2,
      'plugins.limits.allow': ['127.0.9.0/24']
    },
    submission: true,
    http: true,
    now: () => clock
  });
});
afterAll(async () => harness?.close());

describe('limits', () => {
  it('refuses a third concurrent connection from one address with 421 and takes it again once one closed', async () => {
    const held = [await SmtpWire.session(harness.ports.smtp!, { localAddress: '127.0.1.1' }), await SmtpWire.session(harness.ports.smtp!, { localAddress: '127.0.1.1' })];
    try {
      const third = await harness.send({ to: [INFO], localAddress: '127.0.1.1' });
      expect(third.greeting).toBe('421 4.7.1 Too many connections from your address at once (limit 2), try again later');
      expect(third.closed).toBe(true);
      // another address is not affected
      expect((await harness.send({ to: [INFO], localAddress: '127.0.1.2' })).accepted).toBe(true);
      await held.pop()!.quit();
      // the disconnect hook runs after the connection is gone
      expect(await eventually(async () => (await harness.api('/api/v1/plugins/limits/addresses')).body.addresses.find((a: { address: string }) => a.address === '127.0.1.1')?.open === 1)).toBe(true);
      expect((await harness.send({ to: [INFO], localAddress: '127.0.1.1' })).accepted).toBe(true);
    } finally {
      held.forEach((w) => w.destroy());
    }
  });

  it('refuses connections past the per-minute rate until the minute has passed', async () => {
    for (let i = 0; i < 4; i++) expect((await harness.send({ to: [], localAddress: '127.0.2.1' })).greeting).toMatch(/^220 /);
    const fifth = await harness.send({ to: [INFO], localAddress: '127.0.2.1' });
    expect(fifth.greeting).toBe('421 4.7.1 Too many connections from your address in the last minute (limit 4), try again later');
    clock += 2 * 60_000;
    expect((await harness.send({ to: [INFO], localAddress: '127.0.2.1' })).accepted).toBe(true);
  });

  it('refuses MAIL FROM past the messages per minute with 451, on the same connection too', async () => {
    const wire = await SmtpWire.session(harness.ports.smtp!, { localAddress: '127.0.3.1' });
    try {
      for (let i = 0; i < 2; i++) {
        expect((await wire.command('MAIL FROM:<a@sender.test>')).line).toBe('250 2.1.0 Accepted');
        expect((await wire.command('RSET')).code).toBe(250);
      }
      expect((await wire.command('MAIL FROM:<a@sender.test>')).line).toBe('451 4.7.1 Too many messages from your address in the last minute (limit 2), try again later');
    } finally {
      wire.destroy();
    }
    clock += 2 * 60_000;
    expect((await harness.send({ to: [INFO], localAddress: '127.0.3.1' })).accepted).toBe(true);
  });

  it('leaves allow-listed networks and logged-in submission clients alone', async () => {
    for (let i = 0; i < 5; i++) expect((await harness.send({ to: [INFO], localAddress: '127.0.9.7' })).accepted).toBe(true);
    for (let i = 0; i < 3; i++) expect((await harness.send({ auth: { user: INFO }, to: [INFO], localAddress: '127.0.4.1' })).accepted).toBe(true);
  });

  it('shows the counted addresses to admins only', async () => {
    const seen = await harness.api('/api/v1/plugins/limits/addresses', { role: 'admin' });
    expect(seen.status).toBe(200);
    expect(seen.body.addresses.map((a: { address: string }) => a.address)).toEqual(expect.arrayContaining(['127.0.1.1', '127.0.2.1', '127.0.3.1']));
    expect(seen.body.addresses.map((a: { address: string }) => a.address)).not.toContain('127.0.9.7');
    const anonymous = await harness.api('/api/v1/plugins/limits/addresses', { role: null });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('unauthenticated');
  });

  it('is listed with its hooks at /api/v1/plugins, and its route is in the OpenAPI document', async () => {
    const listing = await harness.api('/api/v1/plugins', { role: 'admin' });
    expect(listing.body).toEqual({
      plugins: [
        {
          name: 'limits',
          source: 'limits',
          hooks: [
            { hook: 'connect', priority: -90, timeout: 30000 },
            { hook: 'mail', priority: -90, timeout: 30000 },
            { hook: 'disconnect', priority: 0, timeout: 30000 }
          ]
        }
      ]
    });
    expect((await harness.api('/api/docs', { role: null })).body.paths['/api/v1/plugins/limits/addresses'].get.summary).toMatch(/limits plugin/);
  });
});

describe('RateCounter', () => {
  it('weighs the previous minute by how much of it is still within the last minute', () => {
    const counter = new RateCounter(10);
    const t0 = 600_000; // a minute boundary
    for (let i = 0; i < 10; i++) counter.hit('a', t0 + 1000);
    expect(counter.count('a', t0 + 30_000)).toBe(10);
    expect(counter.count('a', t0 + 60_000)).toBe(10); // the whole previous minute still counts at its end
    expect(counter.count('a', t0 + 90_000)).toBe(5);
    expect(counter.hit('a', t0 + 90_000)).toBe(6);
    expect(counter.count('a', t0 + 200_000)).toBe(0);
  });

  it('remembers at most its capacity, forgetting the least recently seen address', () => {
    const counter = new RateCounter(3);
    for (const address of ['a', 'b', 'c']) counter.hit(address, 0);
    counter.hit('a', 1);
    counter.hit('d', 2);
    expect(counter.size).toBe(3);
    expect([...counter.keys()]).toEqual(['c', 'a', 'd']);
    expect(counter.count('b', 3)).toBe(0);
  });
});
