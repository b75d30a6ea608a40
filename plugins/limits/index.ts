// Per-address limits (plugin `limits`): concurrent connections and connections per minute at connect, messages per
// minute at MAIL FROM. Counters live in memory, bounded to maxAddresses (the least recently seen go first).
import { AddressList, definePlugin, results } from '../../server/plugins/index.js';

const MINUTE_MS = 60_000;

interface Window {
  start: number;
  previous: number;
  current: number;
}

/**
 * Events per address over the last minute, estimated from two fixed one-minute buckets (the previous one weighted
 * by how much of it still lies within the last minute): constant memory per address, and at most `capacity`
 * addresses, the least recently seen dropped first.
 */
export class RateCounter {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.windows.size;
  }

  /** Counts one event and returns the events of the last minute, this one included. */
  hit(key: string, now: number): number {
    const window = this.roll(key, now);
    window.current++;
    this.windows.delete(key); // re-inserted last: the map's order is least recently seen first
    this.windows.set(key, window);
    if (this.windows.size > this.capacity) this.windows.delete(this.windows.keys().next().value!);
    return estimate(window, now);
  }

  /** The events of the last minute without counting one. */
  count(key: string, now: number): number {
    return this.windows.has(key) ? estimate(this.roll(key, now), now) : 0;
  }

  keys(): IterableIterator<string> {
    return this.windows.keys();
  }

  private roll(key: string, now: number): Window {
    const start = now - (now % MINUTE_MS);
    const window = this.windows.get(key);
    if (!window) return { start, previous: 0, current: 0 };
    if (window.start === start) return window;
    const rolled = { start, previous: start - window.start === MINUTE_MS ? window.current : 0, current: 0 };
    this.windows.set(key, rolled);
    return rolled;
  }
}

const estimate = (window: Window, now: number) => window.current + window.previous * (1 - (now - window.start) / MINUTE_MS);

export default definePlugin({
  name: 'limits',
  settings: [
    { key: 'concurrency', type: 'integer', default: 10, min: 0, max: 100000, description: 'Connections one client address may have open at once (0 = no limit; smtp.maxConnectionsPerIp still applies)' },
    { key: 'connectionsPerMinute', type: 'integer', default: 60, min: 0, max: 1000000, description: 'New connections one client address may open per minute (0 = no limit)' },
    { key: 'messagesPerMinute', type: 'integer', default: 60, min: 0, max: 1000000, description: 'Messages (MAIL FROM commands) one client address may start per minute (0 = no limit)' },
    { key: 'allow', type: 'list', default: [], description: 'Client addresses and networks (CIDR) no limit applies to, e.g. a backup MX or a monitoring host' },
    { key: 'submission', type: 'boolean', default: false, description: 'Also limit the submission ports (logged-in mail clients; an office behind one address shares the limits)' },
    { key: 'maxAddresses', type: 'integer', default: 10000, min: 100, max: 1000000, description: 'Client addresses whose rates are remembered; past that the least recently seen are forgotten' }
  ],
  register(fastify, plugin) {
    const { config } = plugin;
    const allow = new AddressList(config.allow, 'plugins.limits.allow');
    const connections = new RateCounter(config.maxAddresses);
    const messages = new RateCounter(config.maxAddresses);
    /** open connections per address; only addresses with one open are kept */
    const open = new Map<string, number>();
    const exempt = (connection: { listener: string; remoteAddress: string }) => (connection.listener === 'submission' && !config.submission) || allow.has(connection.remoteAddress);

    plugin.hook(
      'connect',
      ({ connection }) => {
        if (exempt(connection)) return results.continue();
        const ip = connection.remoteAddress;
        const recent = connections.hit(ip, plugin.now());
        if (config.connectionsPerMinute && recent > config.connectionsPerMinute) {
          return results.denysoft(`Too many connections from your address in the last minute (limit ${config.connectionsPerMinute}), try again later`);
        }
        const current = open.get(ip) ?? 0;
        if (config.concurrency && current >= config.concurrency) return results.denysoft(`Too many connections from your address at once (limit ${config.concurrency}), try again later`);
        open.set(ip, current + 1);
        connection.notes.limits = { counted: true };
        return results.continue();
      },
      { priority: -90 } // cheap, and meant to run before plugins that do lookups
    );

    plugin.hook('disconnect', ({ connection }) => {
      if (!(connection.notes.limits as { counted?: boolean } | undefined)?.counted) return;
      const ip = connection.remoteAddress;
      const left = (open.get(ip) ?? 1) - 1;
      if (left > 0) open.set(ip, left);
      else open.delete(ip);
    });

    plugin.hook(
      'mail',
      ({ connection }) => {
        if (!config.messagesPerMinute || exempt(connection)) return results.continue();
        if (messages.hit(connection.remoteAddress, plugin.now()) > config.messagesPerMinute) {
          return results.denysoft(`Too many messages from your address in the last minute (limit ${config.messagesPerMinute}), try again later`);
        }
        return results.continue();
      },
      { priority: -90 }
    );

    fastify.get('/addresses', { config: { access: 'admin' }, schema: { summary: 'Client addresses the limits plugin counts: open connections and the last minute\'s connections and messages', tags: ['plugins'] } }, async () => {
      const now = plugin.now();
      const addresses = new Set([...open.keys(), ...connections.keys(), ...messages.keys()]);
      const rows = [...addresses].map((address) => ({
        address,
        open: open.get(address) ?? 0,
        connectionsLastMinute: Math.round(connections.count(address, now) * 10) / 10,
        messagesLastMinute: Math.round(messages.count(address, now) * 10) / 10
      }));
      rows.sort((a, b) => b.open - a.open || b.connectionsLastMinute - a.connectionsLastMinute || b.messagesLastMinute - a.messagesLastMinute);
      return { addresses: rows.slice(0, 100) };
    });
  }
});
