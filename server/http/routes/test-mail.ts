// Test messages to an account (a support tool for the client setup page): send one through the MX, then ask whether
// and when it arrived and in which folder.
import type { FastifyInstance } from 'fastify';
import { requireAccount } from '../../directory/accounts.js';
import { audit } from '../../directory/audit.js';
import { sendTestMail, TEST_MAIL_ID, testMessageId } from '../../smtp/test-mail.js';
import { findByMessageId } from '../../store/messages.js';
import { actorOf, type HttpContext } from '../context.js';
import { errors } from '../errors.js';
import { addressParams, addressString, objectSchema } from '../schemas.js';

const testMailParams = objectSchema({ address: addressString, id: { type: 'string', pattern: TEST_MAIL_ID.source } }, ['address', 'id']);

export function testMailRoutes(ctx: HttpContext) {
  return async (app: FastifyInstance) => {
    const { db, config } = ctx.services;
    const arrival = async (accountId: number, id: string) => {
      const found = await findByMessageId(db, accountId, testMessageId(id, config.hostname));
      return found ? { at: found.internalDate, folder: found.folder } : null;
    };

    app.post<{ Params: { address: string } }>(
      '/accounts/:address/test-mail',
      {
        config: { access: 'admin' },
        schema: {
          summary: "Send a test message to the account through this server's MX (as mail from outside arrives); answers once the MX took it",
          description:
            'The answer has the id to ask GET …/test-mail/{id} with, the MX reply, and where the message arrived (null when the address forwards without keeping a copy). A refusal (inactive account, full mailbox) is 409 delivery_refused with the SMTP reply. Owner and admin; audited.',
          tags: ['accounts'],
          params: addressParams
        }
      },
      async (request, reply) => {
        const account = await requireAccount(db, request.params.address);
        const mx = ctx.mx();
        if (!mx) throw errors.mxNotRunning();
        const actor = actorOf(request.principal, request.ip);
        const sent = await sendTestMail(ctx.services, mx, account, actor.name);
        await audit(db, actor, 'account.test-mail', account.address, { messageId: sent.messageId });
        reply.code(201);
        return { ...sent, arrived: await arrival(account.id, sent.id) };
      }
    );

    app.get<{ Params: { address: string; id: string } }>(
      '/accounts/:address/test-mail/:id',
      {
        config: { access: 'admin' },
        schema: { summary: 'Whether a test message arrived in the account: when, and in which folder (null: not there)', tags: ['accounts'], params: testMailParams }
      },
      async (request) => {
        const account = await requireAccount(db, request.params.address);
        return { id: request.params.id, messageId: testMessageId(request.params.id, config.hostname), arrived: await arrival(account.id, request.params.id) };
      }
    );
  };
}
