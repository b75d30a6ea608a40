// Imports from another provider over IMAP: load the remote folders with a proposed mapping, create (and start) a job,
// follow its progress, stop, resume, sync on/off, delete. Changes and remote logins are owner-only; admins may look.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createImport, importView, listImportViews, loadFolders, removeImport, requireImport, resumeImport, setImportSync, stopImport, type NewImport, type RemoteLogin, type ResumeOptions } from '../../importer/admin.js';
import { actorOf, type HttpContext } from '../context.js';
import { addressParams, addressString, objectSchema, passwordString } from '../schemas.js';

const login = {
  host: { type: 'string', minLength: 1, maxLength: 255, description: 'the old provider\'s IMAP server, e.g. imap.example.com' },
  port: { type: 'integer', minimum: 1, maximum: 65535, description: '993 for TLS, 143 for STARTTLS or none (the default follows encryption)' },
  encryption: { type: 'string', enum: ['tls', 'starttls', 'none'], description: 'tls (default): implicit TLS; starttls: required upgrade; none: plain text (only on a trusted network)' },
  username: { type: 'string', minLength: 1, maxLength: 320 },
  password: passwordString,
  verifyCertificate: { type: 'boolean', description: 'false accepts a certificate that cannot be verified (self-signed); default true' }
} as const;
const loginRequired = ['host', 'username', 'password'];
const mapping = {
  type: 'array',
  maxItems: 2000,
  description: 'remote folder -> local folder; local null skips it; folders not listed are skipped',
  items: objectSchema({ remote: { type: 'string', minLength: 1, maxLength: 1000 }, local: { type: ['string', 'null'], minLength: 1, maxLength: 1000 } }, ['remote', 'local'])
} as const;
const jobParams = objectSchema({ address: addressString, id: { type: 'integer', minimum: 1 } }, ['address', 'id']);

type JobRequest = FastifyRequest<{ Params: { address: string; id: number } }>;

export function importRoutes(ctx: HttpContext) {
  return async (app: FastifyInstance) => {
    const { services } = ctx;
    const { db, imports } = services;
    const actor = (request: FastifyRequest) => actorOf(request.principal, request.ip);
    const job = (request: JobRequest) => requireImport(db, request.params.id, request.params.address);
    const view = async (request: JobRequest) => ({ import: await importView(db, await job(request)) });

    app.post<{ Params: { address: string }; Body: RemoteLogin }>(
      '/accounts/:address/imports/folders',
      {
        schema: {
          summary: 'Connect to the old provider and list its folders with counts and a proposed local folder for each (a failure names the field: host, port, encryption, password)',
          tags: ['imports'],
          params: addressParams,
          body: objectSchema(login, loginRequired)
        }
      },
      async (request) => loadFolders(services, request.params.address, request.body)
    );

    app.post<{ Params: { address: string }; Body: NewImport }>(
      '/accounts/:address/imports',
      {
        // a mapping of a few thousand folders is larger than the API's usual 64 KiB
        bodyLimit: 1024 * 1024,
        schema: {
          summary: 'Create and start an import: every message of the mapped folders with flags and internal date, resumable, optionally syncing new mail until switched off',
          tags: ['imports'],
          params: addressParams,
          body: objectSchema({ ...login, mapping, sync: { type: 'boolean' }, ignoreQuota: { type: 'boolean', description: 'import past the account quota' } }, loginRequired)
        }
      },
      async (request, reply) => {
        const created = await createImport(services, actor(request), request.params.address, request.body);
        imports.kick();
        reply.code(201);
        return { import: created };
      }
    );

    app.get<{ Params: { address: string } }>(
      '/accounts/:address/imports',
      { config: { access: 'admin' }, schema: { summary: "The account's imports with state and progress per folder", tags: ['imports'], params: addressParams } },
      async (request) => ({ imports: await listImportViews(db, request.params.address) })
    );

    app.get('/imports', { config: { access: 'admin' }, schema: { summary: 'Every import of every account, newest first', tags: ['imports'] } }, async () => ({ imports: await listImportViews(db) }));

    app.get<{ Params: { address: string; id: number } }>(
      '/accounts/:address/imports/:id',
      {
        config: { access: 'admin' },
        schema: { summary: 'One import: state, error naming the field, progress (messages and bytes, per folder), the newest 100 failures', tags: ['imports'], params: jobParams }
      },
      view
    );

    app.post<{ Params: { address: string; id: number } }>(
      '/accounts/:address/imports/:id/stop',
      { schema: { summary: 'Stop between two messages; progress and password are kept, resume continues', tags: ['imports'], params: jobParams } },
      async (request) => {
        await stopImport(db, actor(request), await job(request));
        await imports.abort(request.params.id);
        return view(request);
      }
    );

    app.post<{ Params: { address: string; id: number }; Body: ResumeOptions }>(
      '/accounts/:address/imports/:id/resume',
      {
        schema: {
          summary: 'Continue a stopped, failed or finished import where it was (no duplicates); password when it is no longer stored',
          tags: ['imports'],
          params: jobParams,
          body: objectSchema({ password: passwordString, retryFailed: { type: 'boolean', description: 'fetch the failed messages again' }, ignoreQuota: { type: 'boolean' } })
        }
      },
      async (request) => {
        await resumeImport(services, actor(request), await job(request), request.body ?? {});
        imports.kick();
        return view(request);
      }
    );

    app.patch<{ Params: { address: string; id: number }; Body: { sync: boolean; password?: string } }>(
      '/accounts/:address/imports/:id',
      {
        schema: {
          summary: 'Repeating sync on or off (off: a job waiting for its next sync finishes and its password is deleted)',
          tags: ['imports'],
          params: jobParams,
          body: objectSchema({ sync: { type: 'boolean' }, password: passwordString }, ['sync'])
        }
      },
      async (request) => {
        await setImportSync(services, actor(request), await job(request), request.body.sync, request.body.password);
        imports.kick();
        return view(request);
      }
    );

    app.delete<{ Params: { address: string; id: number } }>(
      '/accounts/:address/imports/:id',
      { schema: { summary: 'Delete the import with its progress and stored password (imported mail stays)', tags: ['imports'], params: jobParams } },
      async (request, reply) => {
        const found = await job(request);
        if (found.state === 'running') {
          await stopImport(db, actor(request), found);
          await imports.abort(request.params.id);
        }
        await removeImport(db, actor(request), found);
        return reply.code(204).send();
      }
    );
  };
}
