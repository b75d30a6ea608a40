// What a plugin is: a fastify plugin that declares its name (fastify's plugin-meta, as fastify-plugin sets it) and
// its settings, and registers hooks through `fastify.postfach` (the plugin API decorated onto its own context).
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Tx } from '../db/transaction.js';
import type { DnsResolver } from '../dns/resolver.js';
import type { Logger } from '../log/logger.js';
import type { HookFunction, HookName, HookOptions } from './hooks.js';
import type { PluginConfigOf, PluginSetting } from './settings.js';

/** What a plugin gets as `fastify.postfach`. */
export interface PluginApi<C = Record<string, unknown>> {
  /** the name the plugin declared */
  readonly name: string;
  /** its validated settings (plugins.<name>.*) */
  readonly config: C;
  readonly log: Logger;
  /** this server's host name */
  readonly hostname: string;
  /** the database (read freely; write through `write`) */
  readonly db: Kysely<Database>;
  /** runs a write in the group-committed write transaction the delivery path uses */
  write<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
  /** the one DNS resolver (STYLE.md §9) */
  readonly resolver: DnsResolver;
  /** the clock (tests inject one) */
  now(): number;
  /** registers a hook function; an unknown hook name throws */
  hook<H extends HookName>(hook: H, fn: HookFunction<H>, options?: HookOptions): void;
}

const SETTINGS = Symbol.for('postfach.plugin.settings');
const META = Symbol.for('plugin-meta');
const DISPLAY_NAME = Symbol.for('fastify.display-name');

/** A loadable plugin: a fastify plugin function carrying its declared name and settings. */
export type PostfachPlugin = FastifyPluginAsync<{ config?: Record<string, unknown> }>;

export interface PluginDefinition<S extends readonly PluginSetting[]> {
  /** the plugin's name: its config section is plugins.<name>, its routes live under /api/v1/plugins/<name> */
  name: string;
  settings?: S;
  register(fastify: FastifyInstance, plugin: PluginApi<PluginConfigOf<S>>): void | Promise<void>;
}

const NAME = /^[a-z][a-z0-9-]{0,39}$/;

/** Makes a plugin: `export default definePlugin({ name, settings, register(fastify, plugin) { … } })`. */
export function definePlugin<const S extends readonly PluginSetting[] = readonly []>(definition: PluginDefinition<S>): PostfachPlugin {
  if (!NAME.test(definition.name)) throw new Error(`plugin name "${definition.name}" must be lower-case letters, digits and "-", starting with a letter`);
  const plugin: PostfachPlugin = async (fastify) => {
    await definition.register(fastify, (fastify as FastifyInstance & { postfach: PluginApi<PluginConfigOf<S>> }).postfach);
  };
  return Object.assign(plugin, { [META]: { name: definition.name }, [DISPLAY_NAME]: definition.name, [SETTINGS]: definition.settings ?? [] });
}

/** The declared name and settings of a loaded module's plugin function; null when it declares no name. */
export function pluginMeta(value: unknown): { name: string; settings: readonly PluginSetting[] } | null {
  if (typeof value !== 'function') return null;
  const carrier = value as unknown as Record<symbol, unknown>;
  const name = (carrier[META] as { name?: unknown } | undefined)?.name;
  if (typeof name !== 'string' || !NAME.test(name)) return null;
  return { name, settings: (carrier[SETTINGS] as readonly PluginSetting[] | undefined) ?? [] };
}
