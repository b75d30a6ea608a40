// Example plugin (README "Writing a plugin"): refuses listed senders at MAIL FROM, tags accepted messages with a
// header, and counts both at GET /api/v1/plugins/example/stats.
import { definePlugin, results } from '../../server/plugins/index.js';

export default definePlugin({
  name: 'example',
  settings: [
    { key: 'blockedSenders', type: 'list', default: [], description: 'Envelope senders refused at MAIL FROM' },
    { key: 'tag', type: 'string', default: 'checked', description: 'Value of the X-Example header added to every accepted message' }
  ],
  async register(fastify, plugin) {
    const blocked = new Set(plugin.config.blockedSenders.map((address) => address.toLowerCase()));
    const stats = { refused: 0, tagged: 0 };

    plugin.hook('mail', ({ address, connection, log }) => {
      if (connection.relaying || !blocked.has(address.toLowerCase())) return results.continue();
      stats.refused++;
      log.info({ sender: address }, 'blocked sender refused');
      return results.deny(`Sender <${address}> is blocked here`);
    });

    plugin.hook('data_post', ({ transaction }) => {
      transaction.addHeader('X-Example', plugin.config.tag);
      stats.tagged++;
    });

    // owner and admin may read it; routes without config.access are owner-only
    fastify.get('/stats', { config: { access: 'admin' } }, async () => stats);
  }
});
