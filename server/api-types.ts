// The JSON shapes the admin API sends and takes that the admin UI reads too: one definition for both sides. No imports
// and no Node APIs, so the UI's bundle and type check can include this file.

export interface ErrorBody {
  error: {
    status: number;
    code: string;
    message: string;
    /** request field at fault (`password`, `address`, `body`), absent when no field is */
    field?: string;
    /** the rule the field broke (`minLength`, `required`, `unique`, …) */
    rule?: string;
    /** every broken rule when there are several (password policy) */
    violations?: Array<{ rule: string; message: string }>;
    /** seconds until a locked login may try again */
    retryAfter?: number;
    /** the SMTP reply when the MX refused a test message */
    reply?: string;
  };
}

export type ClientServiceKind = 'SRV_IMAPS' | 'SRV_IMAP' | 'SRV_POP3S' | 'SRV_POP3' | 'SRV_SUBMISSIONS' | 'SRV_SUBMISSION';
export type DnsRecordKind = 'MX' | 'SPF' | 'DKIM' | 'DMARC' | 'OWNERSHIP' | 'AUTOCONFIG' | 'AUTODISCOVER' | ClientServiceKind;

/** One record the domain's owner sets at their DNS provider; `note` is English, the UI translates by `kind`. */
export interface DnsRecord {
  kind: DnsRecordKind;
  type: 'MX' | 'TXT' | 'CNAME' | 'SRV';
  /** owner name, fully qualified, without the trailing dot */
  name: string;
  /** MX: the exchange host; TXT: the whole text (providers split it into 255-byte strings themselves); CNAME: the
   * target; SRV: the target host, or "." for a service that is not offered (RFC 2782) */
  value: string;
  /** MX and SRV priority (lower is preferred) */
  priority?: number;
  /** SRV weight and port */
  weight?: number;
  port?: number;
  /** false: recommended, mail flows without it (clients only find their settings less easily) */
  required: boolean;
  note: string;
}

/**
 * ok: as expected. missing: nothing of the kind is published. wrong: something is published but does not do the job.
 * error: the DNS did not answer (SERVFAIL, timeout, refused): nothing can be said about the record, so the user is
 * told to retry rather than to change a record that may well be right.
 */
export type RecordStatus = 'ok' | 'missing' | 'wrong' | 'error';

export type RecordProblem =
  | 'domain-does-not-resolve'
  | 'no-mx'
  | 'mx-not-this-server'
  | 'spf-missing'
  | 'spf-not-including-this-server'
  | 'spf-multiple'
  | 'dkim-missing'
  | 'dkim-key-mismatch'
  | 'dmarc-missing'
  | 'dmarc-invalid'
  | 'ownership-missing'
  | 'ownership-wrong'
  | 'client-name-missing'
  | 'client-name-not-this-server'
  | 'srv-missing'
  | 'srv-wrong'
  | 'dns-error';

export interface RecordCheck {
  kind: DnsRecordKind;
  /** false for the records that only help mail clients configure themselves: not 'ok' is a hint, not a fault */
  required: boolean;
  status: RecordStatus;
  expected: string;
  found: string[];
  /** stable code for the UI; null when ok */
  problem: RecordProblem | null;
  /** English explanation */
  message: string;
}

export interface DomainCheck {
  domain: string;
  /** false only when the DNS answered NXDOMAIN for the domain itself; a DNS error leaves it true and shows as 'error' */
  resolves: boolean;
  records: RecordCheck[];
}

export type Encryption = 'none' | 'starttls' | 'tls';

export interface RemoteAccount {
  host: string;
  port: number;
  encryption: Encryption;
  username: string;
  password: string;
  /** false: accept a self-signed or otherwise unverifiable certificate (the owner decided) */
  verifyCertificate: boolean;
}
