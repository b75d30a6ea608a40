// A plugin's own settings: declared by the plugin like the main schema's, read from `plugins.<name>.*` in the
// config file and POSTFACH_PLUGINS_<NAME>_<KEY> variables, validated with the same rules; errors name the full key.
import { ConfigError, coerce, setPath } from '../config/load.js';
import { envName, type Config, type Setting } from '../config/schema.js';

/** A plugin setting: `key` relative to the plugin's section (`zones` for plugins.dnsbl.zones). */
export type PluginSetting = Omit<Setting, 'env'>;

/** The TypeScript type of a setting's value. */
type ValueOf<S extends PluginSetting> = S['type'] extends 'list' | 'domainList' | 'hostPortList'
  ? string[]
  : S['type'] extends 'integer' | 'number'
    ? number
    : S['type'] extends 'boolean'
      ? boolean
      : S extends { type: 'enum'; values: readonly (infer V)[] }
        ? V
        : string;

/** The validated config object a plugin gets for its declared settings (plus `timeout`, which every plugin has). */
export type PluginConfigOf<S extends readonly PluginSetting[]> = { [K in S[number] as K['key']]: ValueOf<K> } & { timeout: number };

/** The setting every plugin has: how long each of its hooks may take. */
function timeoutSetting(config: Config): PluginSetting {
  return { key: 'timeout', type: 'integer', default: config.plugins.timeout, min: 10, max: 600000, description: 'Milliseconds each hook of this plugin may take (default plugins.timeout)' };
}

/** Every setting of a plugin, its own and the common ones. */
export function allSettings(declared: readonly PluginSetting[], config: Config): PluginSetting[] {
  return [...declared.filter((s) => s.key !== 'timeout'), timeoutSetting(config)];
}

/**
 * Validates a plugin's section: an unknown key, or a value the setting's type refuses, is a ConfigError naming
 * `plugins.<name>.<key>`; the environment beats the file; missing values take the declared defaults.
 */
export function pluginConfig(name: string, declared: readonly PluginSetting[], config: Config): Record<string, unknown> {
  const section = config.plugins.sections[name] ?? {};
  const settings = allSettings(declared, config);
  const known = new Set(settings.map((s) => s.key));
  for (const key of Object.keys(section)) {
    if (!known.has(key)) throw new ConfigError(`plugins.${name}.${key}`, `unknown setting of plugin ${name} (it has: ${[...known].join(', ')})`);
  }
  const prefix = envName(`plugins.${name}.`);
  const variables = new Set(settings.map((s) => envName(`plugins.${name}.${s.key}`)));
  for (const variable of Object.keys(config.plugins.environment)) {
    if (variable.startsWith(prefix) && !variables.has(variable)) throw new ConfigError(variable, `unknown setting of plugin ${name} (it reads: ${[...variables].join(', ')})`);
  }
  const result: Record<string, unknown> = {};
  for (const setting of settings) {
    const full: Setting = { ...setting, key: `plugins.${name}.${setting.key}` };
    const variable = envName(full.key);
    const fromEnv = config.plugins.environment[variable];
    const value =
      fromEnv !== undefined ? coerce(full, fromEnv, variable) : section[setting.key] !== undefined ? coerce(full, section[setting.key], 'the config file') : setting.default;
    setPath(result, setting.key, value);
  }
  return result;
}
