// Loading plugins as operators name them: bundled names in order from plugins.enabled or POSTFACH_PLUGINS, a plugin
// file by path (plain JavaScript, no Postfach import), each plugin's settings from its config section and
// POSTFACH_PLUGINS_<NAME>_<KEY> with errors naming the key (before the data folder is touched), and `postfach serve`.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config/load.js';
import { loadPlugins } from '../../server/plugins/loader.js';
import { pluginMeta } from '../../server/plugins/define.js';
import { startHarness } from '../../server/plugins/testing.js';
import { build } from '../../server/app.js';
import { createLogger } from '../../server/log/logger.js';
import { POSTFACH_ENTRY, REPO_ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/server.js';

const scratch = tempDir('postfach-plugin-config-');
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

function configFile(content: unknown): string {
  const file = path.join(scratch, `config-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(content));
  return file;
}

async function loadError(env: Record<string, string>): Promise<ConfigError> {
  try {
    await loadPlugins(loadConfig({ env }));
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

/** A plugin written as plain JavaScript in its own folder, naming itself the way fastify-plugin does. */
function pluginFolder(name: string, source: string): string {
  const folder = path.join(scratch, name);
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, 'index.mjs'), source);
  return folder;
}

const CLOSED = `
async function closed(fastify) {
  fastify.postfach.hook('mail', ({ address }) =>
    address.endsWith('@closed.test') ? { result: 'deny', message: 'We are closed for ' + fastify.postfach.config.reason } : undefined);
}
closed[Symbol.for('plugin-meta')] = { name: 'closed' };
closed[Symbol.for('postfach.plugin.settings')] = [{ key: 'reason', type: 'string', default: 'holidays', description: 'why' }];
export default closed;
`;

describe('loading', () => {
  it('loads bundled plugins in the order named, from the file or POSTFACH_PLUGINS, with their defaults', async () => {
    const fromEnv = await loadPlugins(loadConfig({ env: { POSTFACH_PLUGINS: 'limits, example' } }));
    expect(fromEnv.map((p) => [p.name, p.source])).toEqual([
      ['limits', 'limits'],
      ['example', 'example']
    ]);
    expect(fromEnv[1].config).toEqual({ blockedSenders: [], tag: 'checked', timeout: 30000 });
    const file = configFile({ plugins: { enabled: ['example', 'dnsbl'], timeout: 5000, example: { tag: 'seen', blockedSenders: ['a@b.test'] }, dnsbl: { timeout: 2000, zones: ['bl.example'] } } });
    const fromFile = await loadPlugins(loadConfig({ env: { POSTFACH_CONFIG: file } }));
    expect(fromFile.map((p) => p.name)).toEqual(['example', 'dnsbl']);
    expect(fromFile[0].config).toEqual({ blockedSenders: ['a@b.test'], tag: 'seen', timeout: 5000 });
    expect(fromFile[1].config).toMatchObject({ zones: ['bl.example'], rejectAt: 'connect', cache: 300, timeout: 2000 });
  });

  it('takes POSTFACH_PLUGINS_<NAME>_<KEY> over the file', async () => {
    const file = configFile({ plugins: { enabled: ['example', 'greylist'], example: { tag: 'from-file' } } });
    const [example, greylist] = await loadPlugins(loadConfig({ env: { POSTFACH_CONFIG: file, POSTFACH_PLUGINS_EXAMPLE_TAG: 'from-env', POSTFACH_PLUGINS_GREYLIST_ALLOW_SENDER_DOMAINS: 'Bank.test, shop.test' } }));
    expect(example.config.tag).toBe('from-env');
    expect(greylist.config.allowSenderDomains).toEqual(['bank.test', 'shop.test']);
  });

  it('loads a plugin by path: a folder with index.mjs, plain JavaScript, and runs its hooks', async () => {
    const folder = pluginFolder('closed-plugin', CLOSED);
    const [loaded] = await loadPlugins(loadConfig({ env: { POSTFACH_PLUGINS: folder, POSTFACH_PLUGINS_CLOSED_REASON: 'inventory' } }));
    expect([loaded.name, loaded.source, loaded.config]).toEqual(['closed', folder, { reason: 'inventory', timeout: 30000 }]);
    const harness = await startHarness({ plugins: [path.join(folder, 'index.mjs'), 'example'] });
    try {
      expect((await harness.send({ from: 'boss@closed.test', to: ['info@example.test'] })).mail).toBe('550 5.7.1 We are closed for holidays');
      expect((await harness.send({ from: 'boss@open.test', to: ['info@example.test'] })).accepted).toBe(true);
    } finally {
      await harness.close();
    }
  });

  it('loads a plugin installed as an npm package next to Postfach, plain and scoped (@scope/name)', async () => {
    const suffix = Math.random().toString(36).slice(2, 8);
    const plain = `postfach-test-plugin-${suffix}`;
    const scope = `@postfach-test-${suffix}`;
    const scoped = `${scope}/closed`;
    const installed = [path.join(REPO_ROOT, 'node_modules', plain), path.join(REPO_ROOT, 'node_modules', scope)];
    try {
      for (const name of [plain, scoped]) {
        const folder = path.join(REPO_ROOT, 'node_modules', name);
        fs.mkdirSync(folder, { recursive: true });
        fs.writeFileSync(path.join(folder, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: 'module', exports: './main.js' }));
        fs.writeFileSync(path.join(folder, 'main.js'), CLOSED); // not index.*: the package's own exports field is what counts
      }
      const fromPlain = await loadPlugins(loadConfig({ env: { POSTFACH_PLUGINS: plain, POSTFACH_PLUGINS_CLOSED_REASON: 'stocktaking' } }));
      expect([fromPlain[0].name, fromPlain[0].source, fromPlain[0].config.reason]).toEqual(['closed', plain, 'stocktaking']);
      const fromScoped = await loadPlugins(loadConfig({ env: { POSTFACH_PLUGINS: scoped } }));
      expect([fromScoped[0].name, fromScoped[0].source]).toEqual(['closed', scoped]);
      const harness = await startHarness({ plugins: [scoped] });
      try {
        expect((await harness.send({ from: 'boss@closed.test', to: ['info@example.test'] })).mail).toBe('550 5.7.1 We are closed for holidays');
      } finally {
        await harness.close();
      }
      const missing = await loadError({ POSTFACH_PLUGINS: `${scope}/absent` });
      expect(missing.message).toContain(`cannot load plugin "${scope}/absent"`);
    } finally {
      for (const folder of installed) fs.rmSync(folder, { recursive: true, force: true });
    }
  });

  it('reads the declared name the way fastify does (plugin-meta)', () => {
    expect(pluginMeta(Object.assign(async () => undefined, { [Symbol.for('plugin-meta')]: { name: 'fp-style' } }))).toEqual({ name: 'fp-style', settings: [] });
    expect(pluginMeta(async () => undefined)).toBeNull();
    expect(pluginMeta(Object.assign(async () => undefined, { [Symbol.for('plugin-meta')]: { name: 'Not Valid' } }))).toBeNull();
  });
});

describe('errors name the key and stop start-up', () => {
  it.each([
    [{ plugins: { enabled: ['example'], example: { tag: 5 } } }, 'plugins.example.tag', 'config: plugins.example.tag: must be a string (got 5 from the config file)'],
    [{ plugins: { enabled: ['example'], example: { colour: 'red' } } }, 'plugins.example.colour', 'config: plugins.example.colour: unknown setting of plugin example (it has: blockedSenders, tag, timeout)'],
    [{ plugins: { enabled: ['greylist'], greylist: { delay: 0 } } }, 'plugins.greylist.delay', 'config: plugins.greylist.delay: must be at least 1 (got 0 from the config file)'],
    [{ plugins: { enabled: ['rspamd'], rspamd: { junkScore: 'high' } } }, 'plugins.rspamd.junkScore', 'config: plugins.rspamd.junkScore: must be a number (got "high" from the config file)'],
    [{ plugins: { enabled: ['dnsbl'], dnsbl: { rejectAt: 'data' } } }, 'plugins.dnsbl.rejectAt', 'config: plugins.dnsbl.rejectAt: must be one of connect, rcpt, never (got "data" from the config file)'],
    [{ plugins: { enabled: ['example'], example: { timeout: 5 } } }, 'plugins.example.timeout', 'config: plugins.example.timeout: must be at least 10 (got 5 from the config file)'],
    [{ plugins: { enabled: ['example', 'example'] } }, 'plugins.enabled', 'config: plugins.enabled: plugin example is named twice']
  ])('%j', async (content, key, message) => {
    const err = await loadError({ POSTFACH_CONFIG: configFile(content) });
    expect([err.key, err.message]).toEqual([key, message]);
  });

  it('names a plugin section that is not an object', () => {
    expect(() => loadConfig({ env: { POSTFACH_CONFIG: configFile({ plugins: { dnsbl: true } }) } })).toThrow('config: plugins.dnsbl: must be an object with the settings of plugin dnsbl');
  });

  it('names an environment variable no setting of the plugin reads', async () => {
    const err = await loadError({ POSTFACH_PLUGINS: 'example', POSTFACH_PLUGINS_EXAMPLE_TAGG: 'x' });
    expect(err.message).toBe('config: POSTFACH_PLUGINS_EXAMPLE_TAGG: unknown setting of plugin example (it reads: POSTFACH_PLUGINS_EXAMPLE_BLOCKED_SENDERS, POSTFACH_PLUGINS_EXAMPLE_TAG, POSTFACH_PLUGINS_EXAMPLE_TIMEOUT)');
  });

  it('names a plugin that cannot be found, and one that does not declare its name', async () => {
    expect((await loadError({ POSTFACH_PLUGINS: 'no-such-plugin' })).message).toMatch(/^config: plugins\.enabled: cannot load plugin "no-such-plugin": Cannot find (package|module) 'no-such-plugin'/);
    expect((await loadError({ POSTFACH_PLUGINS: path.join(scratch, 'missing') })).message).toBe(`config: plugins.enabled: cannot load plugin "${path.join(scratch, 'missing')}": no plugin at ${path.join(scratch, 'missing')} (a file, or a folder with index.js or index.mjs or index.ts)`);
    const anonymous = pluginFolder('anonymous', 'export default async function (fastify) {}\n');
    expect((await loadError({ POSTFACH_PLUGINS: anonymous })).message).toBe(`config: plugins.enabled: plugin "${anonymous}" does not declare its name: export definePlugin({ name, … }) (or a fastify plugin with plugin-meta name)`);
  });

  it('stops build() before it touches the data folder', async () => {
    const dataDir = path.join(scratch, 'never-created');
    const config = loadConfig({ env: { POSTFACH_PLUGINS: 'example,nosuch' }, overrides: { dataDir } });
    await expect(build(config, { logger: createLogger('silent') })).rejects.toThrow('config: plugins.enabled: cannot load plugin "nosuch"');
    expect(fs.existsSync(dataDir)).toBe(false);
  });

  it('names a bad allow-list entry when the plugin starts', async () => {
    await expect(startHarness({ plugins: ['dnsbl'], settings: { 'plugins.dnsbl.allow': ['10.0.0.0/33'] } })).rejects.toThrow('config: plugins.dnsbl.allow: "10.0.0.0/33" is not an IP address or network (e.g. 192.0.2.7, 198.51.100.0/24, 2001:db8::/32)');
  });
});

describe('postfach serve', () => {
  it('starts with the plugins named in POSTFACH_PLUGINS and says which', async () => {
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('POSTFACH_')));
    Object.assign(env, { POSTFACH_DATA_DIR: path.join(scratch, 'serve-ok'), POSTFACH_BIND: '127.0.0.1', POSTFACH_LOG_LEVEL: 'silent', POSTFACH_PLUGINS: 'limits,example' });
    for (const port of ['SMTP', 'SUBMISSION', 'SUBMISSIONS', 'IMAP', 'IMAPS', 'POP3', 'POP3S', 'HTTP']) env[`POSTFACH_${port}_PORT`] = port === 'SMTP' ? '0' : '-1';
    const child = spawn(process.execPath, [...POSTFACH_ENTRY, 'serve'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!stdout.includes('Manage domains') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    // started (a SIGTERM before that would end it the default way, without the graceful stop)
    expect(stdout).toContain('Manage domains');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toContain('  Plugins        limits, example\n');
  }, 90_000);
});
