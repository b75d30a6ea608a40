// The outbound notification hooks: every recorded queue attempt tells plugins, per recipient, whether it was
// delivered, deferred (to be retried) or bounced (failed for good); their results are only logged.
import type { AttemptReport } from '../queue/runner.js';
import type { HookName } from './hooks.js';
import type { PluginHost } from './host.js';

const HOOK_OF: Record<AttemptReport['results'][number]['status'], HookName> = { delivered: 'delivered', deferred: 'deferred', failed: 'bounced' };

/** A QueueRunner listener that runs the delivered/deferred/bounced hooks. */
export function deliveryNotifier(host: PluginHost): (report: AttemptReport) => void {
  return ({ entry, results }) => {
    for (const r of results) {
      const delivery = { entryId: entry.id, origin: entry.origin, sender: entry.sender, recipient: r.recipient, status: r.status, reply: r.reply, remoteMta: r.remoteMta, attempt: entry.attempts + 1 };
      host.notify(HOOK_OF[r.status], { delivery });
    }
  };
}
