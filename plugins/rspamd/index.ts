// Spam scanning with rspamd (plugin `rspamd`): at data_post the message goes to rspamd's HTTP API (POST /checkv2)
// with the envelope (IP, Helo, From, Rcpt, Queue-Id, User); by its score it is stored with X-Spam headers, filed
// into Junk, or refused, and rspamd's own reject and soft reject actions are followed. When rspamd cannot be
// reached the message passes with a header saying so, or gets 451 (setting `unavailable`).
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { definePlugin, results, type PluginConnection, type PluginTransaction } from '../../server/plugins/index.js';

/** What /checkv2 answers (https://rspamd.com/doc/developers/protocol.html), as far as Postfach reads it. */
export interface ScanResult {
  score: number;
  required_score: number;
  action: string;
  symbols?: Record<string, { score?: number; options?: string[] }>;
  messages?: { smtp_message?: string };
}

/** Header fields this plugin writes; the sender's own copies are removed so nobody can fake a verdict. */
const SPAM_FIELDS = ['X-Spam', 'X-Spam-Status', 'X-Spamd-Result', 'X-Rspamd-Score', 'X-Rspamd-Action'];
const MAX_RESPONSE = 1024 * 1024;

/** The request headers of rspamd's protocol; Rcpt once per recipient. */
function envelopeHeaders(connection: PluginConnection, transaction: PluginTransaction, hostname: string): string[] {
  const pairs: Array<[string, string]> = [
    ['IP', connection.remoteAddress],
    ['Helo', connection.helo],
    ['From', transaction.mailFrom],
    ['Queue-Id', transaction.id],
    ['MTA-Name', hostname],
    ['Content-Length', String(transaction.size)],
    ...transaction.rcptTo.map((r): [string, string] => ['Rcpt', r])
  ];
  if (connection.reverseName) pairs.push(['Hostname', connection.reverseName]);
  if (connection.user) pairs.push(['User', connection.user]);
  // header values are the client's words: one line of printable text each
  return pairs.filter(([, v]) => v !== '').flatMap(([k, v]) => [k, v.replace(/[^\x20-\x7e]/g, '?')]);
}

/** POSTs the message to /checkv2 and parses the answer; throws when rspamd cannot be reached or answers nonsense. */
export function scan(url: string, headers: string[], message: Readable, signal: AbortSignal): Promise<ScanResult> {
  const target = new URL('checkv2', url.endsWith('/') ? url : `${url}/`);
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request(target, { method: 'POST', headers, signal }, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE) request.destroy(new Error('rspamd answer too large'));
        else chunks.push(chunk);
      });
      response.on('error', reject);
      response.on('end', () => {
        if (response.statusCode !== 200) return reject(new Error(`rspamd answered HTTP ${response.statusCode}`));
        try {
          const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ScanResult;
          if (typeof parsed.score !== 'number' || typeof parsed.action !== 'string') throw new Error('no score or action');
          resolve(parsed);
        } catch (err) {
          reject(new Error(`rspamd answered something that is not a scan result: ${(err as Error).message}`));
        }
      });
    });
    request.on('error', reject);
    message.on('error', (err) => request.destroy(err));
    message.pipe(request);
  });
}

/** rspamd's own summary line: `default: False [3.40 / 15.00]; MISSING_MID(2.50); …`, largest contributions first. */
function summary(result: ScanResult, spam: boolean): string {
  const symbols = Object.entries(result.symbols ?? {})
    .sort(([, a], [, b]) => Math.abs(b.score ?? 0) - Math.abs(a.score ?? 0))
    .slice(0, 40)
    .map(([name, s]) => `${name}(${(s.score ?? 0).toFixed(2)})`);
  return [`default: ${spam ? 'True' : 'False'} [${result.score.toFixed(2)} / ${result.required_score.toFixed(2)}]`, ...symbols].join('; ');
}

export default definePlugin({
  name: 'rspamd',
  settings: [
    { key: 'url', type: 'string', default: 'http://127.0.0.1:11333', description: 'Base URL of rspamd\'s normal worker (Debian\'s rspamd listens on localhost:11333)' },
    { key: 'junkScore', type: 'number', default: 6, min: -1000, max: 1000, description: 'From this score on (or rspamd\'s "add header"/"rewrite subject") the message goes to Junk with X-Spam: Yes' },
    { key: 'rejectScore', type: 'number', default: 15, min: -1000, max: 1000, description: 'From this score on (or rspamd\'s "reject") the message is refused with 550 5.7.1' },
    { key: 'scanTimeout', type: 'integer', default: 15000, min: 100, max: 300000, description: 'Milliseconds a scan may take before rspamd counts as unavailable (keep it below plugins.rspamd.timeout)' },
    { key: 'unavailable', type: 'enum', default: 'accept', values: ['accept', 'defer'], description: 'When rspamd cannot be reached: accept the message with X-Spam-Status: Unknown, or defer it with 451 so the sender retries' },
    { key: 'maxSize', type: 'integer', default: 20 * 1024 * 1024, min: 1024, max: 1024 * 1024 * 1024, description: 'Messages larger than this many bytes are not scanned' },
    { key: 'submission', type: 'boolean', default: false, description: 'Also scan mail from logged-in clients (outbound spam from a stolen password)' }
  ],
  register(_fastify, plugin) {
    const { config } = plugin;

    plugin.hook('data_post', async ({ connection, transaction, signal, log }) => {
      if (connection.relaying && !config.submission) return results.continue();
      for (const name of SPAM_FIELDS) transaction.removeHeader(name);
      if (transaction.size > config.maxSize) {
        transaction.addHeader('X-Spam-Status', `Unknown, not scanned (larger than ${config.maxSize} bytes)`);
        return results.continue('not scanned: too large');
      }
      let result: ScanResult;
      try {
        result = await scan(config.url, envelopeHeaders(connection, transaction, plugin.hostname), transaction.message(), AbortSignal.any([signal, AbortSignal.timeout(config.scanTimeout)]));
      } catch (err) {
        log.warn({ url: config.url, err: (err as Error).message }, 'rspamd unavailable');
        if (config.unavailable === 'defer') return results.denysoft('Spam filter unavailable, try again later');
        transaction.addHeader('X-Spam-Status', 'Unknown, rspamd unavailable');
        return results.continue('rspamd unavailable');
      }
      const detail = result.messages?.smtp_message ? `: ${result.messages.smtp_message}` : '';
      if (result.action === 'reject' || result.score >= config.rejectScore) return results.deny(`Spam message rejected${detail}`);
      if (result.action === 'soft reject') return results.denysoft(result.messages?.smtp_message || 'Try again later');
      const spam = result.score >= config.junkScore || result.action === 'add header' || result.action === 'rewrite subject';
      const score = result.score.toFixed(2);
      transaction.addHeader('X-Spam-Status', `${spam ? 'Yes' : 'No'}, score=${score} junk=${config.junkScore.toFixed(2)} reject=${config.rejectScore.toFixed(2)} action="${result.action}"`);
      transaction.addHeader('X-Spamd-Result', summary(result, spam));
      transaction.addHeader('X-Rspamd-Score', score);
      if (spam) {
        transaction.addHeader('X-Spam', 'Yes');
        transaction.folder = 'Junk';
      }
      return results.continue(`score ${score}${spam ? ', Junk' : ''}`);
    });
  }
});
