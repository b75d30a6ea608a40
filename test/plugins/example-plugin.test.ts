// The example plugin through the plugin harness, as README "Writing a plugin" shows it to plugin authors.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../server/plugins/testing.js';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ plugins: ['example'], settings: { 'plugins.example.blockedSenders': ['spam@bad.example'] }, http: true });
});
afterAll(() => harness.close());

it('refuses a blocked sender at MAIL FROM', async () => {
  const t = await harness.send({ from: 'spam@bad.example', to: ['info@example.test'] });
  expect(t.mail).toBe('550 5.7.1 Sender <spam@bad.example> is blocked here');
});

it('tags accepted messages and counts both', async () => {
  const t = await harness.send({ from: 'friend@good.example', to: ['info@example.test'] });
  expect(t.accepted).toBe(true);
  const [message] = await harness.messages('info@example.test');
  expect(message.header('X-Example')).toBe('checked');
  expect((await harness.api('/api/v1/plugins/example/stats', { role: 'admin' })).body).toEqual({ refused: 1, tagged: 1 });
  expect((await harness.api('/api/v1/plugins/example/stats', { role: null })).status).toBe(401);
});
