// Plugin hook pipeline benchmark: the cost per message of N no-op plugins on every SMTP hook, measured twice —
// the hook host alone (connect … queue for one message, in a loop) and end to end through the MX (messages/second
// with 0 and N plugins, same client, same machine).
import nodemailer from 'nodemailer';
import { createLogger } from '../server/log/logger.js';
import { PluginHost } from '../server/plugins/host.js';
import { definePlugin, type HookName, type PluginConnection, type PluginTransaction } from '../server/plugins/index.js';
import { startHarness } from '../server/plugins/testing.js';

export interface PluginBenchOptions {
  /** no-op plugins, each on every SMTP hook */
  plugins: number;
  /** messages through the host loop */
  iterations: number;
  /** messages through the MX for each of 0 and `plugins` plugins */
  messages: number;
}

const SMTP_HOOKS: HookName[] = ['connect', 'helo', 'mail', 'rcpt', 'data', 'data_post', 'queue'];

function noOps(count: number, asynchronous: boolean) {
  return Array.from({ length: count }, (_, i) =>
    definePlugin({
      name: `noop${i}`,
      register(_fastify, plugin) {
        for (const hook of SMTP_HOOKS) plugin.hook(hook, asynchronous ? async () => undefined : () => undefined);
      }
    })
  );
}

/** Microseconds per message for the seven SMTP hooks with `count` plugins registered. */
async function hostLoop(count: number, iterations: number, asynchronous: boolean): Promise<number> {
  const host = new PluginHost(createLogger('silent'));
  for (let i = 0; i < count; i++) for (const hook of SMTP_HOOKS) host.register(`noop${i}`, hook, asynchronous ? async () => undefined : () => undefined, { timeout: 30000 });
  const connection = { notes: {}, results: [] } as unknown as PluginConnection;
  const transaction = { notes: {}, results: [] } as unknown as PluginTransaction;
  const run = async () => {
    const trace = transaction.results;
    await host.run('connect', { connection }, trace);
    await host.run('helo', { connection, helo: 'client.test' }, trace);
    await host.run('mail', { connection, transaction, address: 'a@b.test', params: {} }, trace);
    await host.run('rcpt', { connection, transaction, address: 'c@d.test', params: {} }, trace);
    await host.run('data', { connection, transaction }, trace);
    await host.run('data_post', { connection, transaction }, trace);
    await host.run('queue', { connection, transaction }, trace);
  };
  for (let i = 0; i < Math.min(1000, iterations); i++) await run(); // warm-up
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await run();
  return Number(process.hrtime.bigint() - started) / 1e3 / iterations;
}

/** Messages per second through the MX (client in the same process, 5 pooled connections). */
async function throughMx(count: number, messages: number): Promise<number> {
  const harness = await startHarness({ plugins: noOps(count, true) });
  try {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: harness.ports.smtp, secure: false, ignoreTLS: true, pool: true, maxConnections: 5, maxMessages: Infinity });
    const raw = ['From: <bench@sender.test>', 'To: <info@example.test>', 'Subject: plugin bench', `Date: ${new Date().toUTCString()}`, 'Message-ID: <plugin-bench@sender.test>', '', ...Array(20).fill('x'.repeat(100)), ''].join('\r\n');
    const send = () => transport.sendMail({ envelope: { from: 'bench@sender.test', to: ['info@example.test'] }, raw });
    await Promise.all(Array.from({ length: 20 }, send)); // warm-up
    const started = process.hrtime.bigint();
    await Promise.all(Array.from({ length: messages }, send));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    transport.close();
    return messages / seconds;
  } finally {
    await harness.close();
  }
}

export async function benchPlugins(options: PluginBenchOptions): Promise<Record<string, number | string>> {
  const n = options.plugins;
  const empty = await hostLoop(0, options.iterations, false);
  const sync = await hostLoop(n, options.iterations, false);
  const async_ = await hostLoop(n, options.iterations, true);
  const without = await throughMx(0, options.messages);
  const withPlugins = await throughMx(n, options.messages);
  return {
    benchmark: 'plugin hooks',
    plugins: n,
    hooksPerMessage: n * SMTP_HOOKS.length,
    hostNoPluginsUsPerMessage: Number(empty.toFixed(2)),
    hostSyncUsPerMessage: Number(sync.toFixed(1)),
    hostAsyncUsPerMessage: Number(async_.toFixed(1)),
    hostUsPerHookCall: Number((async_ / (n * SMTP_HOOKS.length)).toFixed(2)),
    mxMessagesPerSecondWithout: Number(without.toFixed(1)),
    mxMessagesPerSecondWith: Number(withPlugins.toFixed(1)),
    mxMessages: options.messages
  };
}
