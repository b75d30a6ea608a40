// The hook host: plugins register functions on the closed list of hooks (an unknown name throws), and a hook run
// calls them by priority until one returns something other than `continue`. A plugin that throws or overruns
// its timeout is logged and yields a fault, which the caller turns into a temporary failure (STYLE.md §6).
import type { Logger } from '../log/logger.js';
import { HOOK_NAMES, NOTIFICATION_HOOKS, isHookName, type HookArgs, type HookFunction, type HookName, type HookOptions } from './hooks.js';
import { CONTINUE, normalizeResult, type HookRecord, type HookResult, type HookReturn, type Outcome } from './results.js';

export class PluginError extends Error {
  constructor(
    readonly plugin: string,
    message: string
  ) {
    super(`plugin ${plugin}: ${message}`);
    this.name = 'PluginError';
  }
}

interface Registration {
  plugin: string;
  fn: HookFunction<any>;
  priority: number;
  timeout: number;
  /** registration order: ties in priority keep the order plugins were loaded in */
  seq: number;
}

export interface PluginSummary {
  name: string;
  /** how it was named in plugins.enabled */
  source: string;
  hooks: Array<{ hook: HookName; priority: number; timeout: number }>;
}

type Fault = { result: 'fault'; reason: 'timeout' | 'error' };

const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as PromiseLike<unknown> | null)?.then === 'function';

export class PluginHost {
  private readonly hooks = new Map<HookName, Registration[]>(HOOK_NAMES.map((h) => [h, []]));
  private readonly sources = new Map<string, string>();
  private readonly pending = new Set<Promise<void>>();
  private readonly log: Logger;
  private sealed = false;
  private seq = 0;

  constructor(log: Logger) {
    this.log = log.child({ module: 'plugins' });
  }

  /** Records a loaded plugin (for the admin listing). */
  addPlugin(name: string, source: string): void {
    this.sources.set(name, source);
  }

  /** Registers a hook function; throws PluginError for an unknown hook, a bad priority or timeout, or after start-up. */
  register(plugin: string, hook: string, fn: HookFunction<any>, options: HookOptions & { timeout: number }): void {
    if (!isHookName(hook)) throw new PluginError(plugin, `unknown hook "${hook}" (hooks: ${HOOK_NAMES.join(', ')})`);
    if (this.sealed) throw new PluginError(plugin, `hooks are registered while the plugin loads, not later ("${hook}")`);
    if (typeof fn !== 'function') throw new PluginError(plugin, `the "${hook}" hook needs a function`);
    const priority = options.priority ?? 0;
    if (!Number.isInteger(priority) || priority < -100 || priority > 100) throw new PluginError(plugin, `priority of "${hook}" must be a whole number from -100 to 100, not ${priority}`);
    if (!Number.isInteger(options.timeout) || options.timeout < 1) throw new PluginError(plugin, `timeout of "${hook}" must be a positive number of milliseconds, not ${options.timeout}`);
    const list = this.hooks.get(hook)!;
    list.push({ plugin, fn, priority, timeout: options.timeout, seq: this.seq++ });
    list.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
  }

  /** After start-up: no more registrations. */
  seal(): void {
    this.sealed = true;
  }

  /** Whether any plugin listens on the hook. */
  has(hook: HookName): boolean {
    return this.hooks.get(hook)!.length > 0;
  }

  describe(): PluginSummary[] {
    return [...this.sources].map(([name, source]) => ({
      name,
      source,
      hooks: HOOK_NAMES.flatMap((hook) => this.hooks.get(hook)!.filter((r) => r.plugin === name).map((r) => ({ hook, priority: r.priority, timeout: r.timeout })))
    }));
  }

  /**
   * Runs a decision hook: functions by priority until one returns something other than `continue`. Results other
   * than a plain `continue` go into `trace`. `log` is the caller's logger (with the session's cid).
   */
  async run<H extends HookName>(hook: H, args: HookArgs[H], trace: HookRecord[], log: Logger = this.log): Promise<Outcome> {
    const list = this.hooks.get(hook)!;
    for (const registration of list) {
      const started = performance.now();
      const called = this.call(registration, hook, args, log);
      const returned = isThenable(called) ? await called : called;
      if (returned.result !== 'continue' || returned.message) trace.push(record(hook, registration.plugin, returned, started));
      if (returned.result === 'fault') return { result: 'fault', plugin: registration.plugin, reason: returned.reason };
      if (returned.result !== 'continue') return { ...returned, result: returned.result, plugin: registration.plugin };
    }
    return CONTINUE;
  }

  /** Runs a notification hook in the background: every function is called, results are only logged. */
  notify<H extends HookName>(hook: H, args: HookArgs[H], log: Logger = this.log): void {
    const list = this.hooks.get(hook)!;
    if (!list.length) return;
    if (!NOTIFICATION_HOOKS.has(hook)) throw new Error(`${hook} is not a notification hook`);
    const running: Promise<void> = (async () => {
      for (const registration of list) {
        const returned = await this.call(registration, hook, args, log);
        if (returned.result !== 'continue' && returned.result !== 'fault') log.debug({ hook, plugin: registration.plugin, result: returned.result }, 'notification hook result ignored');
      }
    })().finally(() => this.pending.delete(running));
    this.pending.add(running);
  }

  /** Resolves once every notification hook started so far has finished (shutdown, tests). */
  async drain(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  /**
   * Calls one hook function. A function that answers synchronously is not awaited (no timer, no microtask: the
   * common case costs little); a promise races the plugin's timeout. The signal is made only if the hook asks.
   */
  private call(registration: Registration, hook: HookName, args: object, log: Logger): HookResult | Fault | Promise<HookResult | Fault> {
    const context = new HookCall(args, hook, registration.plugin, log);
    let returned: ReturnType<typeof registration.fn>;
    try {
      returned = registration.fn(context);
      if (!isThenable(returned)) return normalizeResult(returned);
    } catch (err) {
      return fault(log, hook, registration.plugin, err);
    }
    return new Promise((resolve) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        context.timeOut(new Error(`plugin ${registration.plugin}: ${hook} hook timed out after ${registration.timeout} ms`));
        log.warn({ hook, plugin: registration.plugin, timeout: registration.timeout }, 'plugin hook timed out');
        resolve({ result: 'fault', reason: 'timeout' });
      }, registration.timeout);
      const settle = (outcome: () => HookResult | Fault) => {
        if (settled) return; // too late: the timeout already answered
        settled = true;
        clearTimeout(timer);
        try {
          resolve(outcome());
        } catch (err) {
          resolve(fault(log, hook, registration.plugin, err));
        }
      };
      returned.then(
        (value) => settle(() => normalizeResult(value as HookReturn)),
        (err) => settle(() => fault(log, hook, registration.plugin, err))
      );
    });
  }
}

/**
 * What a hook function receives: the hook's arguments, its name, the plugin's name, and (made only when asked for)
 * a logger and an abort signal. A class rather than an object literal with getters: one is made per call.
 */
class HookCall {
  readonly hook: HookName;
  readonly plugin: string;
  #log: Logger;
  #pluginLog: Logger | undefined;
  #controller: AbortController | undefined;
  #timedOut: Error | undefined;

  constructor(args: object, hook: HookName, plugin: string, log: Logger) {
    Object.assign(this, args);
    this.hook = hook;
    this.plugin = plugin;
    this.#log = log;
  }

  get log(): Logger {
    return (this.#pluginLog ??= this.#log.child({ plugin: this.plugin }));
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#timedOut) this.#controller.abort(this.#timedOut);
    }
    return this.#controller.signal;
  }

  timeOut(reason: Error): void {
    this.#timedOut = reason;
    this.#controller?.abort(reason);
  }
}

function fault(log: Logger, hook: HookName, plugin: string, err: unknown): Fault {
  log.error({ err, hook, plugin }, 'plugin hook failed');
  return { result: 'fault', reason: 'error' };
}

function record(hook: HookName, plugin: string, returned: HookResult | Fault, started: number): HookRecord {
  const entry: HookRecord = { hook, plugin, result: returned.result, ms: Math.round((performance.now() - started) * 10) / 10 };
  if ('message' in returned && returned.message) entry.message = returned.message;
  return entry;
}
