// The hook pipeline driven over real SMTP through the plugin harness: hook order, every result on every hook with
// the full reply, default texts and custom codes, priorities, timeouts, throwing plugins, notes, the transaction
// API (headers, Junk), the trace in Received and the log line, submission's relaying flag, registration errors.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HOOK_NAMES, definePlugin, results, type HookContext, type HookName, type HookReturn } from '../../server/plugins/index.js';
import { startHarness, type Harness, type Transcript } from '../../server/plugins/testing.js';
import { createLogger } from '../../server/log/logger.js';
import { PluginHost } from '../../server/plugins/host.js';
import { SmtpWire, eventually } from '../helpers/smtp-wire.js';

const LOCAL_ERROR = '451 4.3.0 Local error in processing, try again later';

type Script = { [H in HookName]?: (context: HookContext<H>) => HookReturn | Promise<HookReturn> };
let script: Script = {};
const seen: HookName[] = [];
const snapshots: Record<string, unknown> = {};

/** Registers a hook after start-up (which must throw). */
let registerLate: () => void = () => undefined;

/** Registers every hook; each runs what the current test scripted for it. */
const scripted = definePlugin({
  name: 'scripted',
  register(_fastify, plugin) {
    registerLate = () => plugin.hook('mail', () => undefined);
    for (const hook of HOOK_NAMES) {
      plugin.hook(hook, (context) => {
        seen.push(hook);
        const step = script[hook] as ((c: typeof context) => HookReturn | Promise<HookReturn>) | undefined;
        return step?.(context);
      });
    }
  }
});

const logLines: Array<Record<string, unknown>> = [];
const captured = createLogger(
  'info',
  new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
      done();
    }
  })
);

let harness: Harness;
const INFO = 'info@example.test';

beforeAll(async () => {
  harness = await startHarness({ plugins: [scripted], settings: { 'plugins.scripted.timeout': 300 }, submission: true, logger: captured });
});
afterAll(async () => harness?.close());
beforeEach(() => {
  script = {};
  seen.length = 0;
});

const stored = async () => (await harness.messages(INFO)).length;

describe('hook order', () => {
  it('runs connect, helo, mail, rcpt (once per recipient), data, data_post, queue, then disconnect', async () => {
    const t = await harness.send({ to: [INFO, 'INFO@example.test'] });
    expect(t.accepted).toBe(true);
    expect(await eventually(() => seen.includes('disconnect'))).toBe(true);
    expect(seen).toEqual(['connect', 'helo', 'mail', 'rcpt', 'rcpt', 'data', 'data_post', 'queue', 'disconnect']);
  });

  it('does not run rcpt hooks for recipients routing refuses, and no later hooks when none is left', async () => {
    const t = await harness.send({ to: ['nobody@example.test', 'someone@elsewhere.test'] });
    expect(t.rcpt).toEqual(['550 5.1.1 Recipient address rejected: no such mailbox here', '550 5.7.1 Relay access denied: this server does not accept mail for that domain']);
    expect(await eventually(() => seen.includes('disconnect'))).toBe(true);
    expect(seen).toEqual(['connect', 'helo', 'mail', 'disconnect']);
  });

  it('gives each hook the connection and transaction as they are at that point', async () => {
    script = {
      connect: ({ connection }) => void (snapshots.connect = { listener: connection.listener, ip: connection.remoteAddress, helo: connection.helo, relaying: connection.relaying, user: connection.user, secure: connection.secure }),
      rcpt: ({ transaction, address, params }) => void (snapshots.rcpt = { from: transaction.mailFrom, so_far: [...transaction.rcptTo], address, params }),
      data_post: ({ connection, transaction }) =>
        void (snapshots.data_post = {
          helo: connection.helo,
          rcpt: [...transaction.rcptTo],
          subject: transaction.header('SUBJECT'),
          size: transaction.size,
          spf: transaction.authentication?.spf,
          id: transaction.id
        })
    };
    const t = await harness.send({ from: 'alice@sender.test', to: [INFO], helo: 'relay.sender.test', localAddress: '127.0.0.3' });
    expect(t.accepted).toBe(true);
    expect(snapshots.connect).toEqual({ listener: 'mx', ip: '127.0.0.3', helo: '', relaying: false, user: null, secure: false });
    expect(snapshots.rcpt).toEqual({ from: 'alice@sender.test', so_far: [], address: INFO, params: {} });
    const post = snapshots.data_post as Record<string, unknown>;
    expect(post).toMatchObject({ helo: 'relay.sender.test', rcpt: [INFO], subject: ['Harness message'], spf: 'temperror' });
    expect(post.size).toBeGreaterThan(100);
    // the transaction id is the queue id of the 250 reply
    expect(t.message).toBe(`250 2.0.0 Ok: queued as ${post.id}`);
  });
});

describe('results on every hook, with the full reply', () => {
  type Field = 'greeting' | 'ehlo' | 'mail' | 'rcpt' | 'data' | 'message';
  const stage: Record<Exclude<HookName, 'delivered' | 'deferred' | 'bounced' | 'disconnect'>, Field> = {
    connect: 'greeting',
    helo: 'ehlo',
    mail: 'mail',
    rcpt: 'rcpt',
    data: 'data',
    data_post: 'message',
    queue: 'message'
  };
  const replyOf = (t: Transcript, field: Field) => (field === 'rcpt' ? t.rcpt[0] : t[field]);
  const cases: Array<[hook: keyof typeof stage, result: ReturnType<typeof results.deny>, reply: string, closed: boolean]> = [];
  for (const hook of Object.keys(stage) as Array<keyof typeof stage>) {
    const greeting = hook === 'connect';
    cases.push([hook, results.deny(`No ${hook} for you`), `${greeting ? '554' : '550'} 5.7.1 No ${hook} for you`, greeting]);
    cases.push([hook, results.denysoft(`Not now (${hook})`), `${greeting ? '421' : '451'} 4.7.1 Not now (${hook})`, greeting]);
    cases.push([hook, results.denyDisconnect(`Go away (${hook})`), greeting ? `554 5.7.1 Go away (${hook})` : `421 4.7.0 Go away (${hook})`, true]);
  }

  it.each(cases)('%s: %o answers %s', async (hook, result, reply, closed) => {
    const before = await stored();
    script = { [hook]: () => result };
    const t = await harness.send({ to: [INFO] });
    expect(replyOf(t, stage[hook])).toBe(reply);
    expect(t.accepted).toBe(false);
    expect(t.closed).toBe(closed);
    expect(await stored()).toBe(before);
  });

  it.each(Object.keys(stage).filter((h) => h !== 'queue') as Array<keyof typeof stage>)('%s: ok accepts and the message is stored', async (hook) => {
    const before = await stored();
    script = { [hook]: () => results.ok() };
    const t = await harness.send({ to: [INFO] });
    expect(t.accepted).toBe(true);
    expect(t.message).toMatch(/^250 2\.0\.0 Ok: queued as [0-9A-F]{16}$/);
    expect(await stored()).toBe(before + 1);
  });

  it('queue: ok means the plugin took the message: 250 naming it, nothing stored', async () => {
    const before = await stored();
    script = { queue: () => results.ok('kept in the archive') };
    const t = await harness.send({ to: [INFO] });
    expect(t.message).toMatch(/^250 2\.0\.0 Ok: taken as [0-9A-F]{16} by scripted \(kept in the archive\)$/);
    expect(await stored()).toBe(before);
  });

  it('continue (or returning nothing) lets the message through', async () => {
    script = { rcpt: () => results.continue(), data: () => 'continue', data_post: () => undefined };
    expect((await harness.send({ to: [INFO] })).accepted).toBe(true);
  });

  it('without a text of its own a refusal has the table text', async () => {
    script = { connect: () => 'deny' };
    expect((await harness.send({ to: [INFO] })).greeting).toBe('554 5.7.1 Connection refused by local policy');
    script = { connect: () => 'denysoft' };
    expect((await harness.send({ to: [INFO] })).greeting).toBe('421 4.7.1 Connection refused by local policy for now, try again later');
    script = { rcpt: () => results.deny() };
    expect((await harness.send({ to: [INFO] })).rcpt).toEqual(['550 5.7.1 Refused by local policy']);
    script = { rcpt: () => results.denysoft() };
    expect((await harness.send({ to: [INFO] })).rcpt).toEqual(['451 4.7.1 Temporarily refused by local policy, try again later']);
    script = { rcpt: () => results.denyDisconnect() };
    const t = await harness.send({ to: [INFO] });
    expect(t.rcpt).toEqual(['421 4.7.0 Refused by local policy, closing connection']);
    expect(t.closed).toBe(true);
  });

  it('takes a reply code and enhanced code of the right class, and cleans the text to one ASCII line', async () => {
    script = { rcpt: () => results.deny('Mailbox moved\r\nInjected: yes', { code: 554, enhanced: '5.7.0' }) };
    expect((await harness.send({ to: [INFO] })).rcpt).toEqual(['554 5.7.0 Mailbox moved Injected: yes']);
    script = { mail: () => results.denysoft('Greylisted', { code: 450, enhanced: '4.2.0' }) };
    expect((await harness.send({ to: [INFO] })).mail).toBe('450 4.2.0 Greylisted');
    // a 4xx code on deny is a plugin bug: a temporary local error, so nothing is refused for good by mistake
    script = { mail: () => results.deny('bad', { code: 450 }) };
    expect((await harness.send({ to: [INFO] })).mail).toBe(LOCAL_ERROR);
    script = { mail: () => results.denysoft('bad', { enhanced: '5.7.1' }) };
    expect((await harness.send({ to: [INFO] })).mail).toBe(LOCAL_ERROR);
  });
});

describe('plugins that fail', () => {
  it('a plugin that throws gives 451 4.3.0, at any stage, and the server keeps serving', async () => {
    for (const hook of ['mail', 'rcpt', 'data', 'data_post', 'queue'] as const) {
      const before = await stored();
      script = {
        [hook]: () => {
          throw new Error(`broken ${hook}`);
        }
      };
      const t = await harness.send({ to: [INFO] });
      expect([t.mail, t.rcpt[0], t.data, t.message]).toContain(LOCAL_ERROR);
      expect(t.accepted).toBe(false);
      expect(await stored()).toBe(before);
    }
    script = { connect: async () => Promise.reject(new Error('broken connect')) };
    expect((await harness.send({ to: [INFO] })).greeting).toBe('421 4.3.0 Local error in processing, try again later');
    script = { helo: () => 'maybe' as never };
    expect((await harness.send({ to: [INFO] })).ehlo).toBe(LOCAL_ERROR);
    script = {};
    expect((await harness.send({ to: [INFO] })).accepted).toBe(true);
    const failures = logLines.filter((l) => l.msg === 'plugin hook failed');
    expect(failures.map((l) => l.hook)).toEqual(expect.arrayContaining(['mail', 'rcpt', 'data', 'data_post', 'queue', 'connect', 'helo']));
    expect(failures.every((l) => l.plugin === 'scripted' && l.level === 50)).toBe(true);
  });

  it('a plugin that overruns its timeout gives a temporary failure, and its signal tells it to stop', async () => {
    let signal: AbortSignal | undefined;
    const never = (context: { signal: AbortSignal }) => {
      signal = context.signal;
      return new Promise<HookReturn>(() => undefined);
    };
    script = { data_post: never };
    const before = await stored();
    const started = Date.now();
    const t = await harness.send({ to: [INFO] });
    expect(t.message).toBe(LOCAL_ERROR);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(signal?.aborted).toBe(true);
    expect(await stored()).toBe(before);
    script = { connect: never };
    expect((await harness.send({ to: [INFO] })).greeting).toBe('421 4.3.0 Local error in processing, try again later');
    expect(logLines.some((l) => l.msg === 'plugin hook timed out' && l.hook === 'connect' && l.timeout === 300)).toBe(true);
  });

  it('a failing disconnect notification is only logged', async () => {
    script = {
      disconnect: () => {
        throw new Error('broken disconnect');
      }
    };
    expect((await harness.send({ to: [INFO] })).accepted).toBe(true);
    expect(await eventually(() => logLines.some((l) => l.msg === 'plugin hook failed' && l.hook === 'disconnect'))).toBe(true);
    expect((await harness.send({ to: [INFO] })).accepted).toBe(true);
  });
});

describe('notes, the transaction API and the trace', () => {
  it('shares connection notes across transactions and starts transaction notes afresh with each MAIL FROM', async () => {
    const observed: Array<{ connection: unknown; transaction: unknown }> = [];
    script = {
      connect: ({ connection }) => void (connection.notes.greeted = 1),
      mail: ({ connection, transaction }) => {
        connection.notes.greeted = Number(connection.notes.greeted) + 1;
        observed.push({ connection: { ...connection.notes }, transaction: { ...transaction.notes } });
        transaction.notes.seen = true;
      }
    };
    const wire = await SmtpWire.session(harness.ports.smtp!);
    try {
      for (let i = 0; i < 2; i++) {
        expect((await wire.command('MAIL FROM:<a@sender.test>')).code).toBe(250);
        expect((await wire.command(`RCPT TO:<${INFO}>`)).code).toBe(250);
        expect((await wire.command('DATA')).code).toBe(354);
        expect((await wire.command(`Subject: ${i}\r\n\r\nbody\r\n.`)).code).toBe(250);
      }
      await wire.quit();
    } finally {
      wire.destroy();
    }
    expect(observed).toEqual([
      { connection: { greeted: 2 }, transaction: {} },
      { connection: { greeted: 3 }, transaction: {} }
    ]);
  });

  it('adds header fields, drops the sender\'s, files into Junk, and records the results in Received and the log line', async () => {
    script = {
      rcpt: () => results.ok('known recipient'),
      data_post: ({ transaction }) => {
        transaction.addHeader('X-Checked-By', 'scripted, Grüße');
        transaction.addHeader('X-Long', Array.from({ length: 30 }, (_, i) => `word${i}`).join(' '));
        transaction.removeHeader('x-forged');
        transaction.folder = 'Junk';
        return results.continue('score 7.5');
      }
    };
    const message = ['From: <a@sender.test>', 'To: <info@example.test>', 'Subject: tagged', 'X-Forged: yes', 'X-forged: again', 'X-Kept: yes', '', 'body', ''].join('\r\n');
    const t = await harness.send({ to: [INFO], message });
    expect(t.accepted).toBe(true);
    const mail = (await harness.messages(INFO)).pop()!;
    expect(mail.folder).toBe('Junk');
    expect(mail.header('X-Checked-By')).toBe('scripted, =?UTF-8?Q?Gr=C3=BC=C3=9Fe?='); // RFC 2047 §5: only the non-ASCII word is encoded
    expect(mail.raw).toMatch(/^X-Long: word0 .{40,76}\r\n word/m);
    expect(mail.header('X-Long')).toBe(Array.from({ length: 30 }, (_, i) => `word${i}`).join(' '));
    expect(mail.header('X-Forged')).toBeUndefined();
    expect(mail.header('X-Kept')).toBe('yes');
    expect(mail.header('Subject')).toBe('tagged');
    expect(mail.header('Received')).toMatch(/ id [0-9A-F]{16} \(plugins: rcpt scripted=ok "known recipient"; data_post scripted=continue "score 7.5"\) for <info@example\.test>;/);
    const line = logLines.filter((l) => l.msg === 'message accepted').pop()!;
    expect(line.plugins).toBe('rcpt scripted=ok "known recipient"; data_post scripted=continue "score 7.5"');
    expect(line.junk).toBe(true);
  });

  it('logs each refusal with the plugin, hook and reply', async () => {
    script = { mail: () => results.deny('Blocked sender') };
    await harness.send({ to: [INFO] });
    expect(logLines.filter((l) => l.msg === 'refused by plugin').pop()).toMatchObject({ hook: 'mail', plugin: 'scripted', result: 'deny', reply: '550 5.7.1 Blocked sender', level: 30 });
  });
});

describe('submission', () => {
  it('runs the same hooks; after AUTH the connection is relaying with the account as user', async () => {
    const states: Array<[HookName, boolean, string | null, string]> = [];
    const record = (hook: HookName) => (context: { connection: { relaying: boolean; user: string | null; listener: string } }) =>
      void states.push([hook, context.connection.relaying, context.connection.user, context.connection.listener]);
    script = { connect: record('connect'), mail: record('mail'), queue: record('queue') };
    const t = await harness.send({ auth: { user: INFO }, to: [INFO] });
    expect(t.auth).toBe('235 2.7.0 Authentication successful');
    expect(t.accepted).toBe(true);
    expect(states).toEqual([
      ['connect', false, null, 'submission'],
      ['mail', true, INFO, 'submission'],
      ['queue', true, INFO, 'submission']
    ]);
    script = { rcpt: ({ connection }) => (connection.relaying ? results.deny('No relaying today') : undefined) };
    expect((await harness.send({ auth: { user: INFO }, to: ['someone@elsewhere.test'] })).rcpt).toEqual(['550 5.7.1 No relaying today']);
  });
});

describe('priorities', () => {
  let ordered: Harness;
  const calls: string[] = [];
  let decide: Record<string, HookReturn> = {};
  const named = (name: string, priority?: number) =>
    definePlugin({
      name,
      register(_fastify, plugin) {
        plugin.hook(
          'mail',
          () => {
            calls.push(name);
            return decide[name];
          },
          priority === undefined ? {} : { priority }
        );
      }
    });

  beforeAll(async () => {
    ordered = await startHarness({ plugins: [named('late', 10), named('early', -10), named('plain'), named('zero', 0), named('earliest', -100)] });
  });
  afterAll(async () => ordered?.close());
  beforeEach(() => {
    calls.length = 0;
    decide = {};
  });

  it('runs lower priorities first and equal ones in load order', async () => {
    expect((await ordered.send({ to: [INFO] })).accepted).toBe(true);
    expect(calls).toEqual(['earliest', 'early', 'plain', 'zero', 'late']);
  });

  it('stops at the first result that is not continue', async () => {
    decide = { early: 'ok', plain: 'deny' };
    expect((await ordered.send({ to: [INFO] })).accepted).toBe(true);
    expect(calls).toEqual(['earliest', 'early']);
    calls.length = 0;
    decide = { plain: results.denysoft('plain says later'), late: 'ok' };
    expect((await ordered.send({ to: [INFO] })).mail).toBe('451 4.7.1 plain says later');
    expect(calls).toEqual(['earliest', 'early', 'plain']);
  });

  it('lists the plugins and their hooks for admins', () => {
    expect(ordered.app.services.plugins.describe().map((p) => [p.name, p.hooks])).toEqual([
      ['late', [{ hook: 'mail', priority: 10, timeout: 30000 }]],
      ['early', [{ hook: 'mail', priority: -10, timeout: 30000 }]],
      ['plain', [{ hook: 'mail', priority: 0, timeout: 30000 }]],
      ['zero', [{ hook: 'mail', priority: 0, timeout: 30000 }]],
      ['earliest', [{ hook: 'mail', priority: -100, timeout: 30000 }]]
    ]);
  });
});

describe('registration', () => {
  it('refuses an unknown hook name at start-up, naming the plugin and the hooks there are', async () => {
    const bad = definePlugin({ name: 'bad', register: (_f, plugin) => plugin.hook('rcpt_to' as HookName, () => undefined) });
    await expect(startHarness({ plugins: [bad] })).rejects.toThrow(
      'plugin bad: unknown hook "rcpt_to" (hooks: connect, helo, mail, rcpt, data, data_post, queue, delivered, deferred, bounced, disconnect)'
    );
  });

  it('refuses a priority outside -100..100, a bad timeout and a missing function', () => {
    const host = new PluginHost(createLogger('silent'));
    expect(() => host.register('bad', 'rcpt', () => undefined, { priority: 101, timeout: 10 })).toThrow('plugin bad: priority of "rcpt" must be a whole number from -100 to 100, not 101');
    expect(() => host.register('bad', 'rcpt', () => undefined, { priority: 1.5, timeout: 10 })).toThrow('plugin bad: priority of "rcpt" must be a whole number from -100 to 100, not 1.5');
    expect(() => host.register('bad', 'mail', () => undefined, { timeout: 0 })).toThrow('plugin bad: timeout of "mail" must be a positive number of milliseconds, not 0');
    expect(() => host.register('bad', 'mail', 'handler' as never, { timeout: 10 })).toThrow('plugin bad: the "mail" hook needs a function');
    expect(host.has('rcpt') || host.has('mail')).toBe(false);
  });

  it('refuses hooks registered after start-up', () => {
    expect(registerLate).toThrow('plugin scripted: hooks are registered while the plugin loads, not later ("mail")');
  });
});
