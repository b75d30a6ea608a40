// The admin API client: JSON over fetch with the session cookie, the CSRF token on every change, errors as ApiError.
import type { ClientServiceKind, DnsRecord, DomainCheck, Encryption, ErrorBody, RecordCheck, RemoteAccount } from '../../server/api-types.js';

export type { ClientServiceKind, DnsRecord, DomainCheck, Encryption, RecordCheck };
export type ApiErrorBody = ErrorBody['error'];
/** what the import form sends: the old provider's login */
export type RemoteLogin = RemoteAccount;

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field?: string;
  readonly rule?: string;
  readonly violations?: Array<{ rule: string; message: string }>;
  readonly retryAfter?: number;
  readonly reply?: string;

  constructor(body: ApiErrorBody) {
    super(body.message);
    this.name = 'ApiError';
    this.status = body.status;
    this.code = body.code;
    this.field = body.field;
    this.rule = body.rule;
    this.violations = body.violations;
    this.retryAfter = body.retryAfter;
    this.reply = body.reply;
  }
}

let csrfToken: string | null = null;
/** Called when a request finds the session gone (expired, logged out elsewhere, password reset). */
let onSessionLost: () => void = () => undefined;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export function whenSessionLost(handler: () => void): void {
  onSessionLost = handler;
}

/** A path segment: addresses and domain names go into URLs encoded. */
export const seg = (value: string | number) => encodeURIComponent(String(value));

export async function api<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiError({ status: 0, code: 'network', message: 'the server cannot be reached' });
  }
  if (response.status === 204) return undefined as T;
  let parsed: unknown = null;
  try {
    parsed = await response.json();
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    const error = (parsed as { error?: ApiErrorBody } | null)?.error ?? { status: response.status, code: 'http', message: `HTTP ${response.status}` };
    const apiError = new ApiError(error);
    if (apiError.code === 'unauthenticated') onSessionLost();
    throw apiError;
  }
  return parsed as T;
}

// ---- the shapes the API answers with (see /api/docs) ------------------------------------------------------------

export type Role = 'owner' | 'admin';

export interface AdminUser {
  login: string;
  role: Role;
  totp: boolean;
  createdAt: number;
}

export interface SessionState {
  authenticated: boolean;
  via?: 'session' | 'token';
  admin?: AdminUser;
  csrfToken?: string;
  setupRequired?: boolean;
}

export interface Domain {
  name: string;
  ascii: string;
  active: boolean;
  catchAll: string | null;
  dkimSelector: string;
  createdAt: number;
  accounts?: number;
}




export interface Account {
  address: string;
  ascii: string;
  displayName: string;
  active: boolean;
  quota: number;
  usedBytes: number;
  messages: number;
  createdAt: number;
  updatedAt: number;
}

export interface AccountDetail {
  account: Account;
  aliases: string[];
  forward: { destinations: string[]; keepCopy: boolean } | null;
}

export interface Alias {
  address: string;
  account: string;
}

export interface Forward {
  source: string;
  destinations: string[];
  keepCopy: boolean;
}

export interface ClientServer {
  protocol: 'imap' | 'pop3' | 'smtp';
  port: number;
  security: 'starttls' | 'tls';
  host: string;
  username: string;
}

export interface ClientSettings {
  address: string;
  username: string;
  incoming: ClientServer[];
  outgoing: ClientServer[];
}

export interface TestMail {
  id: string;
  messageId: string;
  sentAt?: number;
  reply?: string;
  arrived: { at: number; folder: string } | null;
}

export interface ApiToken {
  id: number;
  name: string;
  role: Role;
  createdBy: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  action: string;
  target: string;
  ip: string | null;
  detail: Record<string, unknown>;
}

export interface PolicyInfo {
  minLength: number;
  maxLength: number;
  nameMinLength: number;
}

// ---- imports from another provider (server/importer/admin.ts) ----------------------------------------------------


export type MappingReason = 'inbox' | 'special-use' | 'name' | 'hierarchy' | 'same-name' | 'all-mail' | 'virtual' | 'not-selectable';

export interface RemoteFolderProposal {
  remote: string;
  delimiter: string;
  specialUse?: string;
  flags: string[];
  messages: number | null;
  bytes: number | null;
  selectable: boolean;
  /** the proposed local folder; null = skip */
  local: string | null;
  reason: MappingReason;
}

export interface MappingEntry {
  remote: string;
  local: string | null;
}

export interface FolderProposal {
  folders: RemoteFolderProposal[];
  mapping: MappingEntry[];
  localFolders: Array<{ name: string; specialUse: string | null }>;
  account: { address: string; quota: number; usedBytes: number };
  remoteBytes: number | null;
  remoteMessages: number;
}

export type ImportState = 'queued' | 'running' | 'waiting' | 'stopped' | 'failed' | 'done';

export interface ImportFolderProgress {
  remote: string;
  local: string;
  state: 'pending' | 'running' | 'done' | 'failed';
  messages: number;
  imported: number;
  skipped: number;
  failed: number;
  bytes: number;
  bytesDone: number;
  error: string | null;
}

export interface ImportFailure {
  folder: string;
  uid: number;
  reason: 'too_large' | 'empty' | 'fetch' | 'store';
  detail: string;
  size: number;
  subject: string;
  at: string;
}

export interface ImportJob {
  id: number;
  account: string;
  host: string;
  port: number;
  encryption: Encryption;
  username: string;
  verifyCertificate: boolean;
  state: ImportState;
  sync: boolean;
  ignoreQuota: boolean;
  /** whether the old provider's password is still stored (gone once finished, refused or deleted) */
  passwordStored: boolean;
  error: { field: string; message: string } | null;
  passes: number;
  attempts: number;
  createdBy: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  lastPassAt: string | null;
  nextRunAt: string | null;
  progress: { messages: number; imported: number; skipped: number; failed: number; done: number; bytes: number; bytesDone: number };
  folders: ImportFolderProgress[];
  failures: ImportFailure[];
  failuresTotal: number;
}
