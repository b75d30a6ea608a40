// Configuration loader: file (JSON) + POSTFACH_* environment overrides, validated against the schema.
import fs from 'node:fs';
import path from 'node:path';
import { settingEnv, settings, settingsByKey, type Config, type Setting } from './schema.js';

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string
  ) {
    super(`config: ${key}: ${message}`);
    this.name = 'ConfigError';
  }
}

function flatten(obj: unknown, prefix: string, out: Map<string, unknown>): void {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    out.set(prefix, obj);
    return;
  }
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && !settingsByKey.has(key)) flatten(v, key, out);
    else out.set(key, v);
  }
}

const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+|[0-9a-fA-F:]+)(?::\d{1,5})?$/;

/** Turns a raw value (from JSON or an environment string) into the setting's type, or throws naming the key. */
export function coerce(setting: Setting, raw: unknown, source: string): unknown {
  const fail = (rule: string): never => {
    throw new ConfigError(setting.key, `${rule} (got ${JSON.stringify(raw)} from ${source})`);
  };
  switch (setting.type) {
    case 'string':
      if (typeof raw !== 'string') fail('must be a string');
      return raw;
    case 'enum':
      if (typeof raw !== 'string' || !setting.values!.includes(raw)) fail(`must be one of ${setting.values!.join(', ')}`);
      return raw;
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1' || raw === 'yes') return true;
      if (raw === 'false' || raw === '0' || raw === 'no') return false;
      return fail('must be true or false');
    case 'integer':
    case 'number': {
      const whole = setting.type === 'integer';
      const text = typeof raw === 'string' ? raw.trim() : '';
      const n = typeof raw === 'string' && (whole ? /^-?\d+$/ : /^-?\d+(?:\.\d+)?$/).test(text) ? Number(text) : raw;
      if (typeof n !== 'number' || (whole ? !Number.isSafeInteger(n) : !Number.isFinite(n))) fail(whole ? 'must be a whole number' : 'must be a number');
      const v = n as number;
      if (setting.min !== undefined && v < setting.min) fail(`must be at least ${setting.min}`);
      if (setting.max !== undefined && v > setting.max) fail(`must be at most ${setting.max}`);
      return v;
    }
    case 'list': {
      const list = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter(Boolean) : raw;
      if (!Array.isArray(list) || list.some((s) => typeof s !== 'string' || !s.trim())) return fail('must be a list of non-empty strings');
      return (list as string[]).map((s) => s.trim());
    }
    case 'domainList': {
      const list = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter(Boolean) : raw;
      if (!Array.isArray(list) || list.some((s) => typeof s !== 'string' || !/^[A-Za-z0-9.-]+$/.test(s))) return fail('must be a list of domain names');
      return (list as string[]).map((s) => s.toLowerCase());
    }
    case 'hostPortList': {
      const list = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter(Boolean) : raw;
      if (!Array.isArray(list) || list.some((s) => typeof s !== 'string')) return fail('must be a list of host:port');
      for (const entry of list as string[]) {
        const m = /:(\d+)$/.exec(entry);
        if (!HOST_PORT.test(entry) || (m && (Number(m[1]) < 1 || Number(m[1]) > 65535))) fail(`"${entry}" is not host or host:port`);
      }
      return list;
    }
  }
}

export function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const p of parts.slice(0, -1)) {
    node[p] ??= {};
    node = node[p] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]] = value;
}

export interface LoadOptions {
  /** path of a JSON config file; default: $POSTFACH_CONFIG, else none */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** programmatic overrides by dotted key (tests use these); applied last */
  overrides?: Record<string, unknown>;
}

/** Environment variables of plugin settings: POSTFACH_PLUGINS_<NAME>_<KEY> (POSTFACH_PLUGINS itself is plugins.enabled). */
const PLUGIN_ENV = /^POSTFACH_PLUGINS_./;

/**
 * Files and overrides may carry `plugins.<name>.<key>` values: they are kept by plugin name for the plugin to
 * validate against its own settings when it loads (server/plugins/settings.ts). True when `key` was one.
 */
function pluginSectionValue(sections: Config['plugins']['sections'], key: string, raw: unknown): boolean {
  if (!key.startsWith('plugins.') || settingsByKey.has(key)) return false;
  const [, name, ...rest] = key.split('.');
  if (!rest.length) throw new ConfigError(key, `must be an object with the settings of plugin ${name}`);
  (sections[name] ??= {})[rest.join('.')] = raw;
  return true;
}

/** Builds the Config: defaults < file < environment < overrides. Throws ConfigError naming the key. */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const values = new Map<string, unknown>(settings.map((s) => [s.key, s.default]));
  const sections: Config['plugins']['sections'] = {};
  const file = options.file ?? env.POSTFACH_CONFIG;
  if (file) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError('POSTFACH_CONFIG', `cannot read ${file}: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ConfigError('POSTFACH_CONFIG', `${file} is not valid JSON: ${(err as Error).message}`);
    }
    const flat = new Map<string, unknown>();
    flatten(parsed, '', flat);
    for (const [key, raw] of flat) {
      if (key.startsWith('$') || pluginSectionValue(sections, key, raw)) continue; // "$comment" keys; plugin sections
      const setting = settingsByKey.get(key);
      if (!setting) throw new ConfigError(key, `unknown setting in ${file}`);
      values.set(key, coerce(setting, raw, file));
    }
  }
  for (const setting of settings) {
    const name = settingEnv(setting);
    const raw = env[name];
    if (raw !== undefined && raw !== '') values.set(setting.key, coerce(setting, raw, name));
  }
  for (const [key, raw] of Object.entries(options.overrides ?? {})) {
    if (pluginSectionValue(sections, key, raw)) continue;
    const setting = settingsByKey.get(key);
    if (!setting) throw new ConfigError(key, 'unknown setting');
    values.set(key, coerce(setting, raw, 'override'));
  }
  const config: Record<string, unknown> = {};
  for (const [key, value] of values) setPath(config, key, value);
  const result = config as unknown as Config;
  const settingNames = new Set(settings.map(settingEnv));
  const environment = Object.entries(env).filter(([name, value]) => PLUGIN_ENV.test(name) && !settingNames.has(name) && value !== undefined && value !== '');
  result.plugins.sections = sections;
  result.plugins.environment = Object.fromEntries(environment) as Record<string, string>;
  if (Boolean(result.owner.email) !== Boolean(result.owner.password)) {
    throw new ConfigError(result.owner.email ? 'owner.password' : 'owner.email', 'owner.email and owner.password (POSTFACH_OWNER_EMAIL, POSTFACH_OWNER_PASSWORD) go together');
  }
  if (result.queue.relay && !/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/.test(result.queue.relay)) {
    throw new ConfigError('queue.relay', `"${result.queue.relay}" is not host:port (e.g. smtp.provider.example:587)`);
  }
  if (Boolean(result.queue.relayUser) !== Boolean(result.queue.relayPassword)) {
    throw new ConfigError(result.queue.relayUser ? 'queue.relayPassword' : 'queue.relayUser', 'queue.relayUser and queue.relayPassword go together');
  }
  if (result.acme.enabled) {
    if (result.tls.cert || result.tls.key) throw new ConfigError('acme.enabled', 'ACME manages the certificate itself: leave tls.cert and tls.key empty');
    // RFC 8555 §8.3: the CA fetches the challenge over plain HTTP
    if (result.acme.httpPort < 0 && (result.http.port < 0 || result.http.tls)) {
      throw new ConfigError('acme.httpPort', 'ACME HTTP-01 needs a plain HTTP listener: set acme.httpPort (80 in production), or a plain http.port');
    }
    if (!/^https:\/\/|^http:\/\/(127\.|localhost)/.test(result.acme.directoryUrl)) throw new ConfigError('acme.directoryUrl', `"${result.acme.directoryUrl}" is not an https:// URL`);
  }
  result.dataDir = path.resolve(result.dataDir);
  return result;
}

/** The documented example file in config/, generated from the schema. */
export function exampleConfig(): string {
  const obj: Record<string, unknown> = {
    $comment: 'Postfach configuration. Every key can also be set through the environment variable named in config/README.md.'
  };
  for (const s of settings) setPath(obj, s.key, s.key === 'hostname' ? 'mail.example.com' : s.default);
  return JSON.stringify(obj, null, 2) + '\n';
}

/** The settings table for config/README.md, generated from the schema. */
export function configReference(): string {
  const rows = settings.map((s) => {
    const def = s.key === 'hostname' ? '(the machine host name)' : JSON.stringify(s.default);
    return `| \`${s.key}\` | \`${settingEnv(s)}\` | \`${def}\` | ${s.description} |`;
  });
  return [
    '# Postfach configuration',
    '',
    'Generated from `server/config/schema.ts` by `postfach config reference`; do not edit by hand.',
    '',
    'Settings come from, in rising precedence: the defaults below, the JSON file named by `POSTFACH_CONFIG`',
    '(see `postfach.example.json`), and the environment variables. A bad value stops start-up with a message',
    'naming the key.',
    '',
    '| key | environment | default | meaning |',
    '| --- | --- | --- | --- |',
    ...rows,
    ''
  ].join('\n');
}
