// Tests for the configuration: schema defaults, file and POSTFACH_* precedence, errors naming the key, the generated
// example and reference in config/, and `postfach serve` refusing to start on a bad value.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, configReference, exampleConfig, loadConfig } from '../../server/config/load.js';
import { envName, settingEnv, settings, type Config } from '../../server/config/schema.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/server.js';

const scratch = tempDir('postfach-config-');
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

let files = 0;
/** Writes a config file into the scratch folder and returns its path. */
function configFile(content: unknown): string {
  const file = path.join(scratch, `config-${++files}.json`);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** The ConfigError loadConfig throws for these options (fails when it throws nothing or something else). */
function configError(options: Parameters<typeof loadConfig>[0]): ConfigError {
  try {
    loadConfig(options);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

/** The value at a dotted key of the config. */
function valueAt(config: Config, key: string): unknown {
  return key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], config);
}

describe('defaults', () => {
  /** Every dotted key with a value in the config object. */
  const leafKeys = (node: Record<string, unknown>, prefix = ''): string[] =>
    Object.entries(node).flatMap(([k, v]) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? leafKeys(v as Record<string, unknown>, `${prefix}${k}.`) : [`${prefix}${k}`]));

  it('gives every setting its schema default when nothing is set, and nothing else', () => {
    const config = loadConfig({ env: {} });
    expect(leafKeys(config as unknown as Record<string, unknown>).sort()).toEqual(settings.map((s) => s.key).sort());
    for (const s of settings) expect(valueAt(config, s.key), s.key).toEqual(s.key === 'dataDir' ? path.resolve(s.default as string) : s.default);
  });

  it('has the documented defaults: unprivileged ports, ./data, the machine host name, system DNS', () => {
    const config = loadConfig({ env: {} });
    expect(config.hostname).toBe(os.hostname());
    expect(config.dataDir).toBe(path.resolve('data'));
    expect(config.bind).toBe('0.0.0.0');
    const ports = [config.smtp, config.submission, config.submissions, config.imap, config.imaps, config.pop3, config.pop3s, config.http].map((s) => s.port);
    expect(ports).toEqual([2525, 1587, 1465, 1143, 1993, 1110, 1995, 8080]);
    expect(config.smtp.maxMessageSize).toBe(25 * 1024 * 1024);
    expect(config.smtp.maxRecipients).toBeGreaterThanOrEqual(100); // RFC 5321 §4.5.3.1.8
    expect(config.smtp.maxLineLength).toBeGreaterThanOrEqual(998); // RFC 5321 §4.5.3.1.6
    expect(config.dns).toEqual({ servers: [], timeout: 5000 });
    expect(config.tls).toEqual({ cert: '', key: '', watchInterval: 60 });
    expect(config.accounts).toEqual({ defaultQuota: 0, passwordMinLength: 10 });
  });
});

describe('environment overrides', () => {
  const cases: Array<[variable: string, raw: string, key: string, expected: unknown]> = [
    ['POSTFACH_DATA_DIR', '/srv/postfach', 'dataDir', '/srv/postfach'],
    ['POSTFACH_HOSTNAME', 'mail.firma.de', 'hostname', 'mail.firma.de'],
    ['POSTFACH_SMTP_PORT', '25', 'smtp.port', 25],
    ['POSTFACH_SUBMISSION_PORT', '587', 'submission.port', 587],
    ['POSTFACH_SUBMISSIONS_PORT', '465', 'submissions.port', 465],
    ['POSTFACH_IMAP_PORT', '143', 'imap.port', 143],
    ['POSTFACH_IMAPS_PORT', '993', 'imaps.port', 993],
    ['POSTFACH_POP3_PORT', '110', 'pop3.port', 110],
    ['POSTFACH_POP3S_PORT', '-1', 'pop3s.port', -1],
    ['POSTFACH_HTTP_PORT', '0', 'http.port', 0],
    ['POSTFACH_DNS_SERVERS', '127.0.0.1:5353,[::1]:53', 'dns.servers', ['127.0.0.1:5353', '[::1]:53']]
  ];

  it.each(cases)('%s=%s sets %s', (variable, raw, key, expected) => {
    expect(envName(key)).toBe(variable);
    const config = loadConfig({ env: { [variable]: raw } });
    expect(valueAt(config, key)).toEqual(expected);
    // nothing else moved
    const defaults = loadConfig({ env: {} });
    for (const s of settings) if (s.key !== key) expect(valueAt(config, s.key)).toEqual(valueAt(defaults, s.key));
  });

  it('resolves a relative POSTFACH_DATA_DIR against the working folder', () => {
    expect(loadConfig({ env: { POSTFACH_DATA_DIR: 'var/mail' } }).dataDir).toBe(path.resolve('var/mail'));
  });

  it('names every setting POSTFACH_<KEY> with camel case split by underscores', () => {
    expect(envName('smtp.maxConnectionsPerIp')).toBe('POSTFACH_SMTP_MAX_CONNECTIONS_PER_IP');
    expect(envName('accounts.passwordMinLength')).toBe('POSTFACH_ACCOUNTS_PASSWORD_MIN_LENGTH');
    expect(new Set(settings.map((s) => envName(s.key))).size).toBe(settings.length);
  });

  it('ignores an empty variable', () => {
    expect(loadConfig({ env: { POSTFACH_SMTP_PORT: '' } }).smtp.port).toBe(2525);
  });
});

describe('the config file', () => {
  it('is read from POSTFACH_CONFIG and overrides the defaults', () => {
    const file = configFile({ hostname: 'mx.firma.de', smtp: { port: 25, maxRecipients: 200 }, dns: { servers: ['192.0.2.53', '[2001:db8::53]:53'] } });
    const config = loadConfig({ env: { POSTFACH_CONFIG: file } });
    expect(config.hostname).toBe('mx.firma.de');
    expect(config.smtp).toMatchObject({ port: 25, maxRecipients: 200, maxLineLength: 998 });
    expect(config.dns.servers).toEqual(['192.0.2.53', '[2001:db8::53]:53']);
  });

  it('yields to the environment, which yields to programmatic overrides', () => {
    const file = configFile({ hostname: 'from-file.example', smtp: { port: 25 }, imap: { port: 143 } });
    const env = { POSTFACH_CONFIG: file, POSTFACH_SMTP_PORT: '2626', POSTFACH_HOSTNAME: 'from-env.example' };
    const config = loadConfig({ env, overrides: { hostname: 'from-override.example' } });
    expect(config.imap.port).toBe(143); // file only
    expect(config.smtp.port).toBe(2626); // env beats file
    expect(config.hostname).toBe('from-override.example'); // override beats env
  });

  it('takes an explicit file before POSTFACH_CONFIG', () => {
    const named = configFile({ http: { port: 8081 } });
    const fromEnv = configFile({ http: { port: 8082 } });
    expect(loadConfig({ file: named, env: { POSTFACH_CONFIG: fromEnv } }).http.port).toBe(8081);
  });

  it('skips "$comment" keys and plugin sections', () => {
    const file = configFile({ $comment: 'hi', plugins: { greylist: { delay: 300 } }, smtp: { port: 25 } });
    expect(loadConfig({ env: { POSTFACH_CONFIG: file } }).smtp.port).toBe(25);
  });
});

describe('bad values stop loading with an error naming the key', () => {
  it('POSTFACH_SMTP_PORT=abc names smtp.port and the variable', () => {
    const err = configError({ env: { POSTFACH_SMTP_PORT: 'abc' } });
    expect(err.key).toBe('smtp.port');
    expect(err.message).toBe('config: smtp.port: must be a whole number (got "abc" from POSTFACH_SMTP_PORT)');
  });

  it.each([
    ['POSTFACH_SMTP_PORT', '99999', 'smtp.port', 'must be at most 65535'],
    ['POSTFACH_IMAP_PORT', '-2', 'imap.port', 'must be at least -1'],
    ['POSTFACH_HTTP_PORT', '80.5', 'http.port', 'must be a whole number'],
    ['POSTFACH_POP3_PORT', '0x6e', 'pop3.port', 'must be a whole number'],
    ['POSTFACH_SMTP_MAX_RECIPIENTS', '0', 'smtp.maxRecipients', 'must be at least 1'],
    ['POSTFACH_ACCOUNTS_PASSWORD_MIN_LENGTH', '4', 'accounts.passwordMinLength', 'must be at least 8'],
    ['POSTFACH_LOG_LEVEL', 'loud', 'log.level', 'must be one of fatal, error, warn, info, debug, trace, silent'],
    ['POSTFACH_DNS_SERVERS', '127.0.0.1:5353,not a host', 'dns.servers', '"not a host" is not host or host:port'],
    ['POSTFACH_DNS_SERVERS', '127.0.0.1:99999', 'dns.servers', '"127.0.0.1:99999" is not host or host:port'],
    ['POSTFACH_DNS_SERVERS', 'dns.example:0', 'dns.servers', '"dns.example:0" is not host or host:port'],
    ['POSTFACH_DNS_SERVERS', 'dns.example:domain', 'dns.servers', '"dns.example:domain" is not host or host:port']
  ])('%s=%s', (variable, raw, key, rule) => {
    const err = configError({ env: { [variable]: raw } });
    expect(err.key).toBe(key);
    expect(err.message).toContain(`config: ${key}: ${rule}`);
    expect(err.message).toContain(variable);
  });

  it('refuses an unknown key in the file, naming it and the file', () => {
    const file = configFile({ smtp: { prot: 25 } });
    const err = configError({ env: { POSTFACH_CONFIG: file } });
    expect(err.key).toBe('smtp.prot');
    expect(err.message).toBe(`config: smtp.prot: unknown setting in ${file}`);
    expect(configError({ env: { POSTFACH_CONFIG: configFile({ smtp: 25 }) } }).key).toBe('smtp');
  });

  it('refuses a value of the wrong type in the file, naming the key and the file', () => {
    const file = configFile({ imaps: { port: 'nine-nine-three' } });
    const err = configError({ env: { POSTFACH_CONFIG: file } });
    expect(err.key).toBe('imaps.port');
    expect(err.message).toContain(file);
    expect(configError({ env: { POSTFACH_CONFIG: configFile({ dns: { servers: [53] } }) } }).key).toBe('dns.servers');
    expect(configError({ env: { POSTFACH_CONFIG: configFile({ hostname: 7 }) } }).key).toBe('hostname');
  });

  it('refuses a file that is not JSON or cannot be read, naming POSTFACH_CONFIG', () => {
    const broken = configFile('{ "smtp": { "port": 25, } }');
    const err = configError({ env: { POSTFACH_CONFIG: broken } });
    expect(err.key).toBe('POSTFACH_CONFIG');
    expect(err.message).toContain(`${broken} is not valid JSON`);
    const missing = path.join(scratch, 'missing.json');
    expect(configError({ env: { POSTFACH_CONFIG: missing } }).message).toContain(`cannot read ${missing}`);
  });

  it('refuses an unknown override key', () => {
    expect(configError({ env: {}, overrides: { 'smtp.prot': 25 } }).key).toBe('smtp.prot');
  });
});

describe('the documented files in config/', () => {
  it('postfach.example.json is exactly what `postfach config example` prints', () => {
    const committed = fs.readFileSync(path.join(REPO_ROOT, 'config/postfach.example.json'), 'utf8');
    expect(committed, 'regenerate: node --import tsx server/main.ts config example > config/postfach.example.json').toBe(exampleConfig());
  });

  it('README.md is exactly what `postfach config reference` prints, one row per setting', () => {
    const reference = configReference();
    const committed = fs.readFileSync(path.join(REPO_ROOT, 'config/README.md'), 'utf8');
    expect(committed, 'regenerate: node --import tsx server/main.ts config reference > config/README.md').toBe(reference);
    for (const s of settings) expect(reference).toContain(`| \`${s.key}\` | \`${settingEnv(s)}\` |`);
  });

  it('the example loads as a config file and gives the defaults apart from the host name', () => {
    const config = loadConfig({ env: { POSTFACH_CONFIG: path.join(REPO_ROOT, 'config/postfach.example.json') } });
    expect(config).toEqual({ ...loadConfig({ env: {} }), hostname: 'mail.example.com' });
  });
});

describe('postfach serve', () => {
  it('exits non-zero with a message naming the key when a value is bad', async () => {
    const dataDir = path.join(scratch, 'serve-data');
    const result = await runCli(['serve'], {
      env: { POSTFACH_DATA_DIR: dataDir, POSTFACH_BIND: '127.0.0.1', POSTFACH_SMTP_PORT: '99999', POSTFACH_LOG_LEVEL: 'silent' },
      timeoutMs: 15_000
    });
    expect(result.signal).toBeNull();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('smtp.port');
    expect(result.stderr).toContain('POSTFACH_SMTP_PORT');
    expect(result.stderr).toContain('must be at most 65535');
    expect(result.stdout).not.toContain('Postfach is running');
    expect(fs.existsSync(dataDir)).toBe(false); // stopped before touching the data folder
  });
});
