// Test helper: an admin API client over real HTTP (fetch) that keeps the session cookie and sends the CSRF token.
import { createAdmin } from '../../server/directory/admins.js';
import { PASSWORD, actor, type TestServer } from './server.js';

export const OWNER = 'chefin@firma.de';
export const ADMIN = 'it@firma.de';
export const ADMIN_PASSWORD = 'Admin-Passwort-77';

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export class AdminClient {
  cookie: string | null = null;
  csrf: string | null = null;
  /** Authorization: Bearer value instead of a session */
  token: string | null = null;

  constructor(readonly base: string) {}

  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const h: Record<string, string> = { ...headers };
    if (body !== undefined) h['content-type'] ??= 'application/json';
    if (this.cookie) h.cookie = this.cookie;
    if (this.csrf && !['GET', 'HEAD'].includes(method)) h['x-csrf-token'] ??= this.csrf;
    if (this.token) h.authorization = `Bearer ${this.token}`;
    const response = await fetch(this.base + path, { method, headers: h, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const setCookie = response.headers.get('set-cookie');
    if (setCookie) {
      const value = /^postfach_session=([^;]*)/.exec(setCookie)?.[1];
      this.cookie = value ? `postfach_session=${value}` : null;
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON: keep the text */
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  }

  get = <T = any>(path: string) => this.request<T>('GET', path);
  post = <T = any>(path: string, body: unknown = {}) => this.request<T>('POST', path, body);
  put = <T = any>(path: string, body: unknown = {}) => this.request<T>('PUT', path, body);
  patch = <T = any>(path: string, body: unknown = {}) => this.request<T>('PATCH', path, body);
  delete = <T = any>(path: string, body?: unknown) => this.request<T>('DELETE', path, body);

  async login(login: string, password: string, totp?: string): Promise<ApiResponse> {
    const response = await this.post('/api/v1/session', { login, password, ...(totp ? { totp } : {}) });
    if (response.status === 200) this.csrf = response.body.csrfToken;
    return response;
  }
}

export function apiBase(server: TestServer): string {
  return `http://127.0.0.1:${server.ports.http}`;
}

/** Creates the owner (OWNER, PASSWORD) and an admin user (ADMIN, ADMIN_PASSWORD) and returns clients logged in as each. */
export async function adminClients(server: TestServer): Promise<{ owner: AdminClient; admin: AdminClient }> {
  const { db, accounts } = server.app.services;
  await createAdmin(db, accounts.policy, actor, { login: OWNER, password: PASSWORD, role: 'owner' });
  await createAdmin(db, accounts.policy, actor, { login: ADMIN, password: ADMIN_PASSWORD, role: 'admin' });
  const owner = new AdminClient(apiBase(server));
  const admin = new AdminClient(apiBase(server));
  if ((await owner.login(OWNER, PASSWORD)).status !== 200) throw new Error('owner login failed');
  if ((await admin.login(ADMIN, ADMIN_PASSWORD)).status !== 200) throw new Error('admin login failed');
  return { owner, admin };
}
