// The bundled `rspamd` plugin against Debian's rspamd started on loopback (skipped with the reason where it is not
// installed): clean mail stored with X-Spam headers, a scoring message filed into Junk, GTUBE refused, the sender's
// own spam headers dropped, the envelope seen by rspamd; and rspamd unreachable, passed with a header or deferred.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../server/plugins/testing.js';
import { NO_RSPAMD, freePort, startRspamd, type TestRspamd } from '../helpers/rspamd.js';

const INFO = 'info@example.test';
const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

function mail(extra: string[], body = 'Hello, the invoice is attached as discussed on the phone.'): string {
  return ['From: Alice <alice@sender.test>', 'To: <info@example.test>', 'Subject: Invoice', ...extra, '', body, ''].join('\r\n');
}
const complete = (id: string) => mail([`Date: ${new Date().toUTCString()}`, `Message-ID: <${id}@sender.test>`]);


describe.skipIf(NO_RSPAMD !== null)(NO_RSPAMD ? `rspamd plugin with a real rspamd (skipped: ${NO_RSPAMD})` : 'rspamd plugin with a real rspamd', () => {
  let rspamd: TestRspamd;
  let harness: Harness;

  beforeAll(async () => {
    rspamd = await startRspamd();
    harness = await startHarness({ plugins: ['rspamd'], settings: { 'plugins.rspamd.url': rspamd.url, 'plugins.rspamd.junkScore': 3, 'plugins.rspamd.rejectScore': 15 } });
  }, 120_000);
  afterAll(async () => {
    await harness?.close();
    await rspamd?.close();
  });

  it('stores clean mail in INBOX with rspamd\'s verdict in X-Spam headers and the score in the Received trace', async () => {
    const t = await harness.send({ from: 'alice@sender.test', to: [INFO], message: complete('clean') });
    expect(t.accepted).toBe(true);
    const stored = (await harness.messages(INFO)).find((m) => m.raw.includes('clean@sender.test'))!;
    expect(stored.folder).toBe('INBOX');
    const score = stored.header('X-Rspamd-Score')!;
    expect(Number(score)).toBeLessThan(3);
    expect(stored.header('X-Spam-Status')).toBe(`No, score=${score} junk=3.00 reject=15.00 action="no action"`);
    expect(stored.header('X-Spam')).toBeUndefined();
    // rspamd saw the envelope: From and the single Rcpt
    expect(stored.header('X-Spamd-Result')).toMatch(new RegExp(`^default: False \\[${score.replace('.', '\\.')} / 15\\.00\\];.* FROM_EQ_ENVFROM\\(0\\.00\\)`));
    expect(stored.header('X-Spamd-Result')).toContain('RCPT_COUNT_ONE(');
    expect(stored.header('Received')).toContain(`(plugins: data_post rspamd=continue "score ${score}")`);
  });

  it('files a message scoring at least junkScore into Junk with X-Spam: Yes', async () => {
    // no Date and no Message-ID: rspamd's MISSING_DATE and MISSING_MID add up to more than 3
    const t = await harness.send({ from: 'alice@sender.test', to: [INFO, 'info@example.test'], message: mail(['X-Marker: junk-case']) });
    expect(t.accepted).toBe(true);
    const stored = (await harness.messages(INFO)).find((m) => m.raw.includes('junk-case'))!;
    expect(stored.folder).toBe('Junk');
    expect(stored.header('X-Spam')).toBe('Yes');
    expect(Number(stored.header('X-Rspamd-Score'))).toBeGreaterThanOrEqual(3);
    expect(stored.header('X-Spamd-Result')).toMatch(/MISSING_MID\(2\.50\)/);
  });

  it('refuses GTUBE with 550 5.7.1 and rspamd\'s reason, storing nothing', async () => {
    const before = (await harness.messages(INFO)).length;
    const t = await harness.send({ to: [INFO], message: mail([], GTUBE) });
    expect(t.message).toBe('550 5.7.1 Spam message rejected: Gtube pattern');
    expect((await harness.messages(INFO)).length).toBe(before);
  });

  it('drops spam verdict headers the sender wrote', async () => {
    const forged = mail([`Date: ${new Date().toUTCString()}`, 'Message-ID: <forged@sender.test>', 'X-Spam-Status: No, score=-100', 'X-Spam: No', 'X-Rspamd-Score: -100']);
    expect((await harness.send({ from: 'alice@sender.test', to: [INFO], message: forged })).accepted).toBe(true);
    const stored = (await harness.messages(INFO)).find((m) => m.raw.includes('forged@sender.test'))!;
    expect(stored.raw.match(/^X-Spam-Status:/gim)).toHaveLength(1);
    expect(stored.raw.match(/^X-Rspamd-Score:/gim)).toHaveLength(1);
    expect(stored.header('X-Spam-Status')).toMatch(/^No, score=(?!-100)/);
    expect(stored.raw).not.toMatch(/^X-Spam: No/im);
  });

  it('passes mail with X-Spam-Status: Unknown when rspamd has gone away', async () => {
    await rspamd.close();
    const t = await harness.send({ to: [INFO], message: complete('while-down') });
    expect(t.accepted).toBe(true);
    const stored = (await harness.messages(INFO)).find((m) => m.raw.includes('while-down@sender.test'))!;
    expect(stored.header('X-Spam-Status')).toBe('Unknown, rspamd unavailable');
    expect(stored.header('Received')).toContain('(plugins: data_post rspamd=continue "rspamd unavailable")');
  });
});

describe('rspamd plugin without rspamd', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ plugins: ['rspamd'], settings: { 'plugins.rspamd.url': `http://127.0.0.1:${await freePort()}`, 'plugins.rspamd.unavailable': 'defer' }, submission: true });
  });
  afterAll(async () => harness?.close());

  it('defers with 451 4.7.1 when set to, so the sender retries and nothing goes unscanned', async () => {
    const t = await harness.send({ to: [INFO] });
    expect(t.message).toBe('451 4.7.1 Spam filter unavailable, try again later');
    expect(await harness.messages(INFO)).toEqual([]);
  });

  it('leaves logged-in clients alone unless asked to scan them', async () => {
    expect((await harness.send({ auth: { user: INFO }, to: [INFO] })).accepted).toBe(true);
  });
});
