// Greylisting (plugin `greylist`, opt-in): the first message of an unknown (client network, sender, recipient)
// triplet is refused with 451 at RCPT; a real MTA retries after the delay and passes, spam cannons rarely do.
// Allow-lists and the known-sender rule keep mail people expect (login codes) from being delayed: see README.md.
import { domainOf } from '../../server/directory/address.js';
import { checkSpf } from '../../server/mailauth/spf.js';
import { AddressList, definePlugin, results } from '../../server/plugins/index.js';
import { expire, knowsDomain, networkOf, observe, passedTriplet, rememberDomain, type Timing } from './store.js';

const HOUR_MS = 3600_000;
/** `sub.bank.example` is covered by an entry `bank.example` */
const coveredBy = (domain: string, entries: readonly string[]) => entries.some((e) => domain === e || domain.endsWith(`.${e}`));

export default definePlugin({
  name: 'greylist',
  settings: [
    { key: 'delay', type: 'integer', default: 300, min: 1, max: 86400, description: 'Seconds before a retry of a new triplet (client /24 or /64, sender, recipient) is accepted' },
    { key: 'retryWindow', type: 'integer', default: 172800, min: 60, max: 2592000, description: 'Seconds after the first attempt within which the retry must come; a later one waits again' },
    { key: 'expiry', type: 'integer', default: 3110400, min: 3600, max: 31536000, description: 'Seconds a passed triplet and a known sender domain are remembered after last use (36 days)' },
    { key: 'allowIps', type: 'list', default: ['127.0.0.0/8', '::1'], description: 'Client addresses and networks (CIDR) never greylisted, e.g. a partner\'s mail servers; loopback (this box: local tools, the admin UI\'s test message) by default' },
    { key: 'allowSenderDomains', type: 'domainList', default: [], description: 'Sender domains (and their subdomains) never greylisted, e.g. your bank or a shop that sends login codes' },
    { key: 'allowRecipients', type: 'list', default: [], description: 'Recipient addresses, or whole domains, whose mail is never greylisted (e.g. postmaster@firma.de)' },
    { key: 'knownSenders', type: 'boolean', default: true, description: 'No delay for a sender domain the recipient already knows (had mail pass from, or wrote to) when SPF passes for the client' }
  ],
  async register(fastify, plugin) {
    const { config } = plugin;
    const timing: Timing = { delay: config.delay * 1000, retryWindow: config.retryWindow * 1000, expiry: config.expiry * 1000 };
    const allowIps = new AddressList(config.allowIps, 'plugins.greylist.allowIps');
    const allowRecipients = config.allowRecipients.map((r) => r.toLowerCase());

    plugin.hook(
      'rcpt',
      async ({ connection, transaction, address, log }) => {
        // logged-in clients are not greylisted (they are the ones writing to others)
        if (connection.relaying) return results.continue();
        const sender = transaction.mailFrom.toLowerCase();
        const recipient = address.toLowerCase();
        const senderDomain = sender ? domainOf(sender) : '';
        if (allowIps.has(connection.remoteAddress) || (senderDomain && coveredBy(senderDomain, config.allowSenderDomains))) return results.continue();
        if (allowRecipients.includes(recipient) || allowRecipients.includes(domainOf(recipient))) return results.continue();

        const now = plugin.now();
        const triplet = { network: networkOf(connection.remoteAddress), sender, recipient };
        if (await passedTriplet(plugin.db, triplet, now, timing)) {
          await plugin.write((tx) => observe(tx, triplet, now, timing));
          return results.continue();
        }
        // the known-sender rule: a domain the recipient knows, and SPF shows the client may send for it
        const known =
          config.knownSenders &&
          Boolean(senderDomain) &&
          (await knowsDomain(plugin.db, recipient, senderDomain, now, timing)) &&
          (await checkSpf(plugin.resolver, { ip: connection.remoteAddress, sender, helo: connection.helo, mta: plugin.hostname })) === 'pass';
        const verdict = await plugin.write(async (tx) => {
          const seen = await observe(tx, triplet, now, timing, known);
          if (seen.status === 'passed' && senderDomain) await rememberDomain(tx, recipient, senderDomain, now);
          return seen;
        });
        if (verdict.status === 'passed') return known ? results.continue('known sender, SPF pass') : results.continue('retry after greylisting');
        const seconds = Math.max(1, Math.ceil(verdict.ms / 1000));
        log.info({ network: triplet.network, sender, recipient, wait: seconds }, 'greylisted');
        return results.denysoft(`Greylisted, please try again in ${seconds} seconds`);
      },
      { priority: 50 } // after the cheaper refusals (dnsbl, limits): no triplet for mail refused anyway
    );

    // what logged-in users write to: those domains are known to them from then on
    plugin.hook('queue', async ({ connection, transaction }) => {
      if (!connection.relaying || !connection.user) return results.continue();
      const now = plugin.now();
      const writers = [...new Set([connection.user, transaction.mailFrom].map((a) => a.toLowerCase()).filter(Boolean))];
      const domains = [...new Set(transaction.rcptTo.map(domainOf))];
      await plugin.write(async (tx) => {
        for (const writer of writers) for (const domain of domains) await rememberDomain(tx, writer, domain, now);
      });
      return results.continue();
    });

    const cleanup = async () => {
      const removed = await plugin.write((tx) => expire(tx, plugin.now(), timing));
      if (removed) plugin.log.debug({ removed }, 'expired greylist entries removed');
    };
    await cleanup();
    const timer = setInterval(() => void cleanup().catch((err) => plugin.log.error({ err }, 'greylist cleanup failed')), HOUR_MS);
    timer.unref();
    fastify.addHook('onClose', async () => clearInterval(timer));
  }
});
