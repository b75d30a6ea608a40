// The admin API's error catalogue: every refusal is a JSON body naming the code, the field and the rule it broke.
import type { FastifyError } from 'fastify';
import { DirectoryError } from '../directory/errors.js';
import { MailboxError } from '../store/mailboxes.js';
import { TestMailRefused } from '../smtp/test-mail.js';

export type { ErrorBody } from '../api-types.js';
import type { ErrorBody } from '../api-types.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly rule?: string,
    readonly extra: Partial<ErrorBody['error']> = {}
  ) {
    super(message);
    this.name = 'HttpError';
  }

  body(): ErrorBody {
    return { error: { status: this.status, code: this.code, message: this.message, ...(this.field ? { field: this.field } : {}), ...(this.rule ? { rule: this.rule } : {}), ...this.extra } };
  }
}

/** The catalogue: one constructor per refusal the API gives. */
export const errors = {
  unauthenticated: () => new HttpError(401, 'unauthenticated', 'log in first (session cookie) or send an API token (Authorization: Bearer …)'),
  invalidCredentials: () => new HttpError(401, 'invalid_credentials', 'wrong login or password', 'password', 'match'),
  totpRequired: () => new HttpError(401, 'totp_required', 'this admin user has a second factor: send the 6-digit code from the authenticator app', 'totp', 'required'),
  invalidTotp: () => new HttpError(401, 'invalid_totp', 'the code from the authenticator app is wrong or was used already', 'totp', 'match'),
  locked: (retryAfterMs: number) =>
    new HttpError(429, 'locked', 'too many failed logins; wait before trying again', 'login', 'rateLimit', { retryAfter: Math.ceil(retryAfterMs / 1000) }),
  forbidden: (needed: string) => new HttpError(403, 'forbidden', `only the ${needed} may do this`, undefined, 'role'),
  csrf: () => new HttpError(403, 'csrf', 'missing or wrong X-CSRF-Token header (fetch it from GET /api/v1/session)', 'X-CSRF-Token', 'match'),
  crossOrigin: () => new HttpError(403, 'csrf', 'request from another origin refused', 'Origin', 'sameOrigin'),
  routeNotFound: (method: string, url: string) => new HttpError(404, 'route_not_found', `no endpoint ${method} ${url.split('?')[0]}`),
  setupClosed: () => new HttpError(409, 'setup_done', 'an owner exists already; log in instead', 'token', 'unused'),
  setupToken: () => new HttpError(403, 'setup_token', 'the setup link is wrong or was used; restart the server for a new one', 'token', 'match'),
  confirmation: () => new HttpError(409, 'confirmation_required', 'deleting an account needs the confirmation token from POST …/deletion (valid 10 minutes, once)', 'confirmation', 'match'),
  mxNotRunning: () => new HttpError(409, 'mx_not_running', 'the MX is not running on this server (smtp.port is -1), so no test message can be sent', 'smtp.port', 'enabled'),
  testMailRefused: (reply: string) => new HttpError(409, 'delivery_refused', `the MX refused the test message: ${reply}`, 'address', 'delivery', { reply }),
  metricsToken: () => new HttpError(401, 'unauthenticated', 'GET /metrics needs the bearer token configured as http.metricsToken', 'Authorization', 'match'),
  metricsLoopback: (behindProxy: boolean) =>
    behindProxy
      ? new HttpError(403, 'forbidden', 'GET /metrics behind a proxy (http.trustProxy) needs http.metricsToken: every request looks local there', undefined, 'token')
      : new HttpError(403, 'forbidden', 'GET /metrics answers loopback clients only; set http.metricsToken to scrape from elsewhere', undefined, 'loopback'),
  internal: () => new HttpError(500, 'internal', 'internal error; the server log has the details')
};

const DIRECTORY_STATUS = { invalid: 400, not_found: 404, conflict: 409 } as const;

interface ValidationIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

/** Fastify's schema validation result, named by the request field and JSON Schema keyword it failed. */
function validationError(err: FastifyError & { validation: ValidationIssue[]; validationContext?: string }): HttpError {
  const issue = err.validation[0];
  const where = err.validationContext ?? 'body';
  const path = issue.instancePath.replace(/^\//, '').replace(/\//g, '.');
  let field = path || where;
  if (issue.keyword === 'required') field = [path, String(issue.params.missingProperty)].filter(Boolean).join('.');
  if (issue.keyword === 'additionalProperties') field = [path, String(issue.params.additionalProperty)].filter(Boolean).join('.');
  const message = issue.keyword === 'additionalProperties' ? `unknown field ${field}` : issue.keyword === 'required' ? `${field} is required` : `${field} ${issue.message ?? 'is invalid'}`;
  return new HttpError(400, 'invalid', message, field, issue.keyword === 'additionalProperties' ? 'unknown' : issue.keyword);
}

/** Translates anything a handler throws into the catalogue (STYLE.md §4: throw in handlers, translate once). */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof DirectoryError) {
    const violations = (err as DirectoryError & { violations?: Array<{ rule: string; message: string }> }).violations;
    return new HttpError(DIRECTORY_STATUS[err.kind], err.kind, err.message, err.field, err.rule, violations ? { violations } : {});
  }
  if (err instanceof MailboxError) return new HttpError(409, 'conflict', err.message, 'folder', err.code);
  if (err instanceof TestMailRefused) return errors.testMailRefused(err.reply);
  const fe = err as FastifyError & { validation?: ValidationIssue[] };
  if (fe.validation) return validationError(fe as FastifyError & { validation: ValidationIssue[] });
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError(413, 'too_large', 'request body too large', 'body', 'maxSize');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpError(415, 'unsupported_media_type', 'send JSON with Content-Type: application/json', 'Content-Type', 'json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HttpError(400, 'invalid', 'the JSON body is empty', 'body', 'json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpError(400, 'invalid', 'Content-Length does not match the body', 'body', 'length');
  }
  if (fe instanceof SyntaxError || fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return new HttpError(400, 'invalid', 'the body is not valid JSON', 'body', 'json');
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return new HttpError(fe.statusCode, 'invalid', fe.message, 'request', fe.code ?? 'http');
  return errors.internal();
}
