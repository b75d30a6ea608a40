// Loads the plugins named in plugins.enabled (bundled under plugins/<name>/, a path, or an npm package), validates
// each one's settings, and registers them in order as fastify plugins, each in its own encapsulated context with
// `fastify.postfach` (hooks) and the route prefix /api/v1/plugins/<name> (behind the admin API's auth and roles).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Services } from '../services.js';
import { pluginMeta, type PluginApi, type PostfachPlugin } from './define.js';
import type { PluginHost } from './host.js';
import { pluginConfig } from './settings.js';

export interface LoadedPlugin {
  name: string;
  /** how it was named in plugins.enabled */
  source: string;
  plugin: PostfachPlugin;
  config: Record<string, unknown> & { timeout: number };
}

/** Where bundled plugins live: plugins/ next to server/ (in the source tree and in dist/ alike). */
const BUNDLED = new URL('../../plugins/', import.meta.url);
const BUNDLED_NAME = /^[a-z][a-z0-9-]*$/;
/** Entry files tried in a plugin folder; index.ts only works where TypeScript is loaded (tsx, tests). */
const ENTRIES = ['index.js', 'index.mjs', 'index.ts'];

function entryIn(folder: string): string | null {
  for (const entry of ENTRIES) {
    const file = path.join(folder, entry);
    if (fs.existsSync(file)) return file;
  }
  return null;
}

/** The module specifier for a plugin named in the config. */
function locate(spec: string): string {
  if (BUNDLED_NAME.test(spec)) {
    const bundled = entryIn(fileURLToPath(new URL(`${spec}/`, BUNDLED)));
    if (bundled) return pathToFileURL(bundled).href;
  }
  // a scoped package (@scope/name) is a package, not a path, though it holds a slash
  if (!spec.startsWith('@') && (spec.startsWith('.') || path.isAbsolute(spec) || spec.includes(path.sep))) {
    const resolved = path.resolve(spec);
    const file = fs.existsSync(resolved) && fs.statSync(resolved).isDirectory() ? entryIn(resolved) : resolved;
    if (!file || !fs.existsSync(file)) throw new Error(`no plugin at ${resolved} (a file, or a folder with ${ENTRIES.join(' or ')})`);
    return pathToFileURL(file).href;
  }
  return spec; // an npm package (name or @scope/name, optionally with a subpath), resolved from Postfach's own node_modules
}

async function importPlugin(spec: string): Promise<unknown> {
  try {
    const module = (await import(locate(spec))) as { default?: unknown };
    return module.default ?? module;
  } catch (err) {
    throw new ConfigError('plugins.enabled', `cannot load plugin "${spec}": ${(err as Error).message}`);
  }
}

/**
 * Imports and validates the plugins in order; `given` (tests, the plugin harness) replaces plugins.enabled and
 * may hold plugin functions as well as names. Throws ConfigError naming the key for anything wrong.
 */
export async function loadPlugins(config: Config, given?: ReadonlyArray<string | PostfachPlugin>): Promise<LoadedPlugin[]> {
  const loaded: LoadedPlugin[] = [];
  for (const entry of given ?? config.plugins.enabled) {
    const source = typeof entry === 'string' ? entry : '(given)';
    const plugin = typeof entry === 'string' ? await importPlugin(entry) : entry;
    const meta = pluginMeta(plugin);
    if (!meta) {
      throw new ConfigError('plugins.enabled', `plugin "${source}" does not declare its name: export definePlugin({ name, … }) (or a fastify plugin with plugin-meta name)`);
    }
    if (loaded.some((p) => p.name === meta.name)) throw new ConfigError('plugins.enabled', `plugin ${meta.name} is named twice`);
    loaded.push({ name: meta.name, source, plugin: plugin as PostfachPlugin, config: pluginConfig(meta.name, meta.settings, config) as LoadedPlugin['config'] });
  }
  return loaded;
}

/** Sections of the config file that belong to no loaded plugin (a typo, or a plugin left out of plugins.enabled). */
export function unusedSections(config: Config, loaded: readonly LoadedPlugin[]): string[] {
  return Object.keys(config.plugins.sections).filter((name) => !loaded.some((p) => p.name === name));
}

/**
 * The fastify plugin that registers every loaded plugin, in order, each in a context of its own: the admin HTTP
 * app registers it at /api/v1/plugins, so a plugin's routes are /api/v1/plugins/<name>/… (owner-only unless the
 * route sets config.access). Hooks registered during this are all there once the app is ready.
 */
export function registerPlugins(loaded: readonly LoadedPlugin[], host: PluginHost, services: Services, now: () => number): FastifyPluginAsync {
  return async (scope: FastifyInstance) => {
    for (const entry of loaded) {
      host.addPlugin(entry.name, entry.source);
      const api: PluginApi = {
        name: entry.name,
        config: entry.config,
        log: services.log.child({ module: 'plugin', plugin: entry.name }),
        hostname: services.config.hostname,
        db: services.db,
        write: (work) => services.writes.run(work),
        resolver: services.resolver,
        now,
        hook: (hook, fn, options = {}) => host.register(entry.name, hook, fn, { ...options, timeout: options.timeout ?? entry.config.timeout })
      };
      await scope.register(
        async (context) => {
          context.decorate('postfach', api);
          await context.register(entry.plugin, { config: entry.config });
        },
        { prefix: `/${entry.name}` }
      );
    }
  };
}
