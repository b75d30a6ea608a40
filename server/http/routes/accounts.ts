// Accounts: create, list with usage, show, update, (de)activate, password reset, delete with confirmation, merge, client settings.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { addAccount, deleteAccount, listAccounts, requireAccount, setActive, setPassword, updateAccount } from '../../directory/accounts.js';
import { checkDomainName } from '../../directory/address.js';
import { mergeAccounts } from '../../directory/merge.js';
import { listAliases, listForwards } from '../../directory/routing.js';
import { messageCountsByAccount } from '../../store/messages.js';
import type { Account } from '../../db/schema.js';
import { clientSettings } from '../client-settings.js';
import { actorOf, type HttpContext, type Principal } from '../context.js';
import { errors } from '../errors.js';
import { addressParams, addressString, objectSchema, passwordString } from '../schemas.js';
import { accountView } from '../views.js';
import { displayAddress } from '../../directory/address.js';

const displayName = { type: 'string', maxLength: 1000 } as const;
const quota = { type: 'integer', minimum: 0, description: 'bytes; 0 = unlimited' } as const;

/** Who asked for a confirmation, so only the same login or token can use it. */
const principalKey = (p: Principal | null) => (p?.via === 'session' ? `session:${p.sessionId}` : p?.via === 'token' ? `token:${p.tokenId}` : 'anonymous');

type AddressRequest = FastifyRequest<{ Params: { address: string } }>;

export function accountRoutes(ctx: HttpContext) {
  return async (app: FastifyInstance) => {
    const { db, notifier, blobs, config } = ctx.services;
    const actor = (request: FastifyRequest) => actorOf(request.principal, request.ip);
    const view = async (account: Account) => accountView(account, (await messageCountsByAccount(db, [account.id])).get(account.id) ?? 0);
    const find = (request: AddressRequest) => requireAccount(db, request.params.address);

    app.get<{ Querystring: { domain?: string } }>(
      '/accounts',
      {
        config: { access: 'admin' },
        schema: { summary: 'Accounts with status, quota, bytes used and message count', tags: ['accounts'], querystring: objectSchema({ domain: { type: 'string', maxLength: 253 } }) }
      },
      async (request) => {
        const accounts = await listAccounts(db, request.query.domain ? checkDomainName('domain', request.query.domain) : undefined);
        const counts = await messageCountsByAccount(db);
        return { accounts: accounts.map((a) => accountView(a, counts.get(a.id) ?? 0)) };
      }
    );

    app.post<{ Body: { address: string; password: string; displayName?: string; active?: boolean; quota?: number } }>(
      '/accounts',
      {
        schema: {
          summary: 'Create a mailbox (address lower-cased; password policy enforced, every broken rule listed)',
          tags: ['accounts'],
          body: objectSchema({ address: addressString, password: passwordString, displayName, active: { type: 'boolean' }, quota }, ['address', 'password'])
        }
      },
      async (request, reply) => {
        const account = await addAccount(ctx.services.accounts, actor(request), request.body);
        reply.code(201);
        return { account: await view(account) };
      }
    );

    app.get<{ Params: { address: string } }>(
      '/accounts/:address',
      { config: { access: 'admin' }, schema: { summary: 'One account with its aliases and forward', tags: ['accounts'], params: addressParams } },
      async (request) => {
        const account = await find(request);
        const [aliases, forwards] = await Promise.all([listAliases(db, account.address), listForwards(db, account.address)]);
        const forward = forwards[0];
        return {
          account: await view(account),
          aliases: aliases.map((a) => displayAddress(a.address)),
          forward: forward ? { destinations: forward.destinations.map(displayAddress), keepCopy: forward.keepCopy } : null
        };
      }
    );

    app.patch<{ Params: { address: string }; Body: { displayName?: string; quota?: number } }>(
      '/accounts/:address',
      { schema: { summary: 'Change display name and/or quota', tags: ['accounts'], params: addressParams, body: { ...objectSchema({ displayName, quota }), minProperties: 1 } } },
      async (request) => ({ account: await view(await updateAccount(db, actor(request), request.params.address, request.body)) })
    );

    for (const verb of ['activate', 'deactivate'] as const) {
      app.post<{ Params: { address: string } }>(
        `/accounts/:address/${verb}`,
        {
          schema: {
            summary: verb === 'activate' ? 'Activate: logins and delivery work again' : 'Deactivate: mail is kept; logins are refused, open sessions end, delivery gets 550 5.2.1',
            tags: ['accounts'],
            params: addressParams
          }
        },
        async (request) => {
          await setActive(db, actor(request), request.params.address, verb === 'activate');
          const account = await find(request);
          if (verb === 'deactivate') notifier.closeAccount(account.id);
          return { account: await view(account) };
        }
      );
    }

    app.post<{ Params: { address: string }; Body: { password: string } }>(
      '/accounts/:address/password',
      {
        config: { access: 'admin' },
        schema: {
          summary: "Set a new password (owner or admin; mailbox users cannot change their own). Open sessions of the mailbox end.",
          tags: ['accounts'],
          params: addressParams,
          body: objectSchema({ password: passwordString }, ['password'])
        }
      },
      async (request, reply) => {
        await setPassword(ctx.services.accounts, actor(request), request.params.address, request.body.password);
        // a reset is often because the old password leaked: sessions opened with it end
        notifier.closeAccount((await find(request)).id);
        return reply.code(204).send();
      }
    );

    app.post<{ Params: { address: string } }>(
      '/accounts/:address/deletion',
      {
        schema: {
          summary: 'Step 1 of deleting an account: returns a confirmation token (valid 10 minutes, once) and what will be lost',
          tags: ['accounts'],
          params: addressParams
        }
      },
      async (request, reply) => {
        const account = await find(request);
        const { token, expiresAt } = ctx.confirmations.issue(`delete-account:${account.id}`, principalKey(request.principal));
        reply.code(201);
        return {
          confirmation: token,
          expiresAt,
          account: await view(account),
          warning: `Deleting ${displayAddress(account.address)} removes the account and ALL its mail for good.`
        };
      }
    );

    app.delete<{ Params: { address: string }; Body: { confirmation: string } }>(
      '/accounts/:address',
      {
        schema: {
          summary: 'Step 2: delete the account and all its messages and files, with the confirmation token from step 1',
          tags: ['accounts'],
          params: addressParams,
          body: objectSchema({ confirmation: { type: 'string', minLength: 1, maxLength: 100 } }, ['confirmation'])
        }
      },
      async (request) => {
        const account = await find(request);
        if (!ctx.confirmations.consume(request.body.confirmation, `delete-account:${account.id}`, principalKey(request.principal))) throw errors.confirmation();
        const messages = (await messageCountsByAccount(db, [account.id])).get(account.id) ?? 0;
        const { blobsRemoved } = await deleteAccount(db, blobs, actor(request), account.address);
        notifier.closeAccount(account.id);
        return { deleted: displayAddress(account.address), messages, bytes: account.used_bytes, filesRemoved: blobsRemoved };
      }
    );

    app.post<{ Params: { address: string }; Body: { into: string } }>(
      '/accounts/:address/merge',
      {
        schema: {
          summary: 'Merge this account into another: all folders and messages move (flags and dates kept), then this account is deleted; its address becomes an alias of the target',
          tags: ['accounts'],
          params: addressParams,
          body: objectSchema({ into: addressString }, ['into'])
        }
      },
      async (request) => {
        const source = await find(request);
        const result = await mergeAccounts(db, actor(request), source.address, request.body.into);
        const target = await requireAccount(db, request.body.into);
        notifier.closeAccount(source.id);
        for (const folder of result.folders) notifier.publish({ accountId: target.id, mailboxId: folder.mailboxId, kind: 'exists', uids: [], modseq: 0 });
        notifier.publish({ accountId: target.id, mailboxId: 0, kind: 'mailboxes', uids: [], modseq: 0 });
        await blobs.unlinkUnreferenced(db, result.freed);
        return { merged: displayAddress(source.address), into: await view(target), moved: result.moved, folders: result.folders.map(({ from, to, moved }) => ({ from, to, moved })) };
      }
    );

    app.get<{ Params: { address: string } }>(
      '/accounts/:address/client-settings',
      { config: { access: 'admin' }, schema: { summary: 'What to enter in a mail client: servers, ports, encryption, user name', tags: ['accounts'], params: addressParams } },
      async (request) => clientSettings((await find(request)).address, config.hostname, ctx.endpoints())
    );
  };
}
