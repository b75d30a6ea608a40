// The JSON shapes the admin API answers with: addresses and domains in their Unicode form beside the stored ASCII.
import type { Account, Admin, AuditEntry, Domain } from '../db/schema.js';
import { displayAddress, unicodeDomain } from '../directory/address.js';

export function domainView(domain: Domain, accounts?: number) {
  return {
    name: unicodeDomain(domain.name),
    ascii: domain.name,
    active: domain.active === 1,
    catchAll: domain.catchall_target ? displayAddress(domain.catchall_target) : null,
    dkimSelector: domain.dkim_selector,
    createdAt: domain.created_at,
    ...(accounts === undefined ? {} : { accounts })
  };
}

export function accountView(account: Account, messages: number) {
  return {
    address: displayAddress(account.address),
    ascii: account.address,
    displayName: account.display_name,
    active: account.active === 1,
    quota: account.quota,
    usedBytes: account.used_bytes,
    messages,
    createdAt: account.created_at,
    updatedAt: account.updated_at
  };
}

export function adminView(admin: Admin) {
  return { login: displayAddress(admin.login), role: admin.role, totp: admin.totp_secret !== null, createdAt: admin.created_at };
}

export function auditView(entry: AuditEntry) {
  let detail: unknown = {};
  try {
    detail = JSON.parse(entry.detail);
  } catch {
    detail = { raw: entry.detail };
  }
  return { id: entry.id, at: entry.at, actor: entry.actor, action: entry.action, target: entry.target, ip: entry.ip, detail };
}
