// Address normalisation: lower-case local parts, domains in ASCII (punycode) form for storage and Unicode for display.
import { domainToASCII, domainToUnicode } from 'node:url';
import { invalid } from './errors.js';

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** ASCII form of a domain name, or null when it is not a valid host name (RFC 5890 / RFC 1123). */
export function asciiDomain(input: string): string | null {
  const trimmed = input.trim().replace(/\.$/, '');
  if (!trimmed || trimmed.length > 253) return null;
  const ascii = domainToASCII(trimmed.toLowerCase());
  if (!ascii || ascii.length > 253) return null;
  const labels = ascii.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return null;
  if (/^\d+$/.test(labels[labels.length - 1])) return null; // an IP address is not a domain
  return ascii;
}

/** Unicode form of a stored (ASCII) domain, for display. */
export function unicodeDomain(ascii: string): string {
  return domainToUnicode(ascii) || ascii;
}

/** Unicode form of a stored address, for display. */
/** Domain part of an address, lower-case (the queue groups by it, MX lookups and DKIM keys use it). */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

export function displayAddress(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? address : address.slice(0, at + 1) + unicodeDomain(address.slice(at + 1));
}

/**
 * Local parts Postfach creates for accounts, aliases and forwards: lower-case letters, digits, "_" and "-" in
 * dot-separated words. A subset of RFC 5321's dot-atom that every other mail system and client accepts.
 */
const LOCAL_PART = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;

export function checkDomainName(field: string, input: string): string {
  const ascii = asciiDomain(input);
  if (!ascii) throw invalid(field, 'domain', `"${input}" is not a valid domain name`);
  return ascii;
}

/** Validates and normalises an address that Postfach will host. Rejects '+' (it separates subaddresses). */
export function checkLocalPart(field: string, input: string): string {
  const local = input.trim().toLowerCase();
  if (!local) throw invalid(field, 'required', `${field} must not be empty`);
  if (local.length > 64) throw invalid(field, 'length', `${field} may have at most 64 characters (RFC 5321 §4.5.3.1.1)`);
  if (local.includes('+')) throw invalid(field, 'characters', `${field} must not contain "+": it separates subaddresses (info+news@ reaches info@)`);
  if (!LOCAL_PART.test(local)) {
    throw invalid(field, 'characters', `${field} may contain letters a-z, digits and . _ - (no leading, trailing or double dot)`);
  }
  return local;
}

export interface ParsedAddress {
  local: string;
  domain: string;
  /** local@domain, lower-case, ASCII domain */
  address: string;
}

/** Splits and normalises a full address for hosting (account, alias, forward source). */
export function checkHostedAddress(field: string, input: string): ParsedAddress {
  const at = input.lastIndexOf('@');
  if (at <= 0 || at === input.length - 1) throw invalid(field, 'address', `"${input}" is not an address of the form name@domain`);
  const local = checkLocalPart(field, input.slice(0, at));
  const domain = checkDomainName(field, input.slice(at + 1));
  return { local, domain, address: `${local}@${domain}` };
}

/** Normalises any deliverable address (forward destinations may be anywhere); null when malformed. */
export function normalizeAddress(input: string): ParsedAddress | null {
  const trimmed = input.trim();
  const at = trimmed.lastIndexOf('@');
  if (at <= 0 || at === trimmed.length - 1) return null;
  const local = trimmed.slice(0, at).toLowerCase();
  if (local.length > 64 || /[\s<>()\[\],;:\\"\x00-\x1f\x7f]/.test(local.replace(/^"(.*)"$/, 'x'))) return null;
  const domain = asciiDomain(trimmed.slice(at + 1));
  if (!domain) return null;
  return { local, domain, address: `${local}@${domain}` };
}
