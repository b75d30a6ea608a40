// The one kysely Database interface: every table Postfach keeps (STYLE.md §3).
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface DomainTable {
  id: Generated<number>;
  /** ASCII (punycode) form, lower-case */
  name: string;
  active: number;
  /** address (local part@this domain) that receives mail matching nothing else, or null */
  catchall_target: string | null;
  dkim_selector: string;
  dkim_private_key: string;
  dkim_public_key: string;
  verification_token: string;
  created_at: number;
}

export interface AccountTable {
  id: Generated<number>;
  domain_id: number;
  local_part: string;
  /** full address, lower-case, domain in ASCII form */
  address: string;
  display_name: string;
  password_hash: string;
  active: number;
  /** bytes; 0 = unlimited */
  quota: number;
  used_bytes: number;
  /** the highest UIDVALIDITY a deleted folder of this account had: new folders get a larger one */
  uidvalidity_floor: Generated<number>;
  created_at: number;
  updated_at: number;
}

export interface AliasTable {
  id: Generated<number>;
  domain_id: number;
  address: string;
  account_id: number;
  created_at: number;
}

export interface ForwardTable {
  id: Generated<number>;
  domain_id: number;
  /** the hosted address whose mail is forwarded */
  source: string;
  /** keep a copy in the source's own mailbox when the source is an account */
  keep_copy: number;
  created_at: number;
}

export interface ForwardDestinationTable {
  forward_id: number;
  destination: string;
}

export interface MailboxTable {
  id: Generated<number>;
  account_id: number;
  /** full hierarchical name with '/' separator; INBOX is always "INBOX" */
  name: string;
  special_use: string | null;
  uidvalidity: number;
  uidnext: number;
  highestmodseq: number;
  subscribed: number;
  created_at: number;
}

export interface MessageTable {
  id: Generated<number>;
  mailbox_id: number;
  uid: number;
  modseq: number;
  /** space-separated IMAP flags */
  flags: string;
  internal_date: number;
  size: number;
  blob_id: string;
  envelope: string;
  bodystructure: string;
  subject: string;
  from_addr: string;
  to_addr: string;
  cc_addr: string;
  bcc_addr: string;
  message_id: string;
  sent_date: number | null;
}

export interface ExpungeTable {
  mailbox_id: number;
  uid: number;
  modseq: number;
}

export interface BlobTable {
  /** integer key; also the rowid of the blob's row in the message_text full-text index */
  num: Generated<number>;
  /** sha256 hex of the stored bytes */
  id: string;
  size: number;
  refcount: number;
  created_at: number;
  /** octets with every line ended by CRLF (POP3 LIST/RETR, RFC 1939 §11); null until computed for older blobs */
  wire_size: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface QueueTable {
  id: Generated<number>;
  blob_id: string;
  /** MAIL FROM used for delivery ('' for DSNs); forwards carry the SRS-rewritten sender */
  sender: string;
  /** where a DSN about this entry goes; '' = nowhere (DSNs and null-sender mail never cause one) */
  return_path: string;
  /** recipient domain (ASCII, lower-case): one entry per message and domain */
  domain: string;
  origin: 'submission' | 'forward' | 'dsn';
  /** the hosted address that caused a forward (its domain seals and rewrites) */
  forwarded_for: string | null;
  attempts: number;
  next_attempt: number;
  /** past this the pending recipients fail with a DSN (queue.maxAge) */
  expires_at: number;
  /** set while a delivery attempt runs; a crash leaves it behind and start-up clears it */
  leased_until: number | null;
  last_error: string | null;
  created_at: number;
}

export interface QueueRecipientTable {
  id: Generated<number>;
  queue_id: number;
  recipient: string;
  status: 'pending' | 'delivered' | 'failed';
  /** last reply from the remote server (or our own reason) */
  reply: string | null;
  remote_mta: string | null;
  updated_at: number;
}

export interface ServerSecretTable {
  name: string;
  value: string;
  created_at: number;
}

export interface AuditTable {
  id: Generated<number>;
  at: number;
  actor: string;
  action: string;
  target: string;
  detail: string;
  ip: string | null;
}

export interface AdminTable {
  id: Generated<number>;
  /** e-mail address the admin logs in with, lower-case */
  login: string;
  password_hash: string;
  /** 'owner' may do everything; 'admin' resets passwords and reads */
  role: 'owner' | 'admin';
  /** base32 TOTP secret (RFC 6238) once confirmed; login then needs a code */
  totp_secret: string | null;
  /** secret handed out for enrolment, not yet confirmed with a code */
  totp_pending: string | null;
  /** last accepted TOTP time step: a code is accepted once (RFC 6238 §5.2) */
  totp_last_step: number | null;
  created_at: number;
  updated_at: number;
}

export interface AdminSessionTable {
  /** sha256 (hex) of the cookie value */
  id: string;
  admin_id: number;
  csrf_token: string;
  created_at: number;
  last_seen_at: number;
  /** absolute end, whatever the activity */
  expires_at: number;
  ip: string | null;
  user_agent: string | null;
}

export interface ApiTokenTable {
  id: Generated<number>;
  name: string;
  /** sha256 (hex) of the token; the token itself is shown once */
  token_hash: string;
  role: 'owner' | 'admin';
  /** admin user who created it; null once that user is removed (the token is revoked then) */
  created_by: number | null;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface ImportJobTable {
  id: Generated<number>;
  account_id: number;
  host: string;
  port: number;
  encryption: 'none' | 'starttls' | 'tls';
  verify_certificate: number;
  username: string;
  /** AES-256-GCM sealed remote password (key file in the data folder); null once finished or cancelled */
  password_sealed: string | null;
  state: 'queued' | 'running' | 'waiting' | 'stopped' | 'failed' | 'done';
  /** 1: after the first pass, fetch new mail again every import.syncInterval seconds */
  sync: number;
  ignore_quota: number;
  /** when a queued or waiting job is due */
  next_run_at: number;
  /** which process runs it ("server:<pid>", "cli:<pid>") and until when that claim holds without renewal */
  leased_by: string | null;
  leased_until: number | null;
  /** passes in a row that ended in a connection failure */
  attempts: Generated<number>;
  passes: Generated<number>;
  /** the request field the last error is about (host, port, encryption, password, quota) */
  error_field: string | null;
  error_message: string | null;
  created_by: string;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
  last_pass_at: number | null;
}

export interface ImportFolderTable {
  id: Generated<number>;
  job_id: number;
  position: number;
  /** folder path as the remote server names it (Unicode, remote delimiter) */
  remote_path: string;
  remote_delimiter: string;
  local_name: string;
  uidvalidity: number | null;
  /** every remote UID below this was handled in a finished pass */
  synced_uidnext: Generated<number>;
  /** 1 after a UIDVALIDITY change: skip messages the local folder has already (Message-ID, else content) */
  dedup: Generated<number>;
  state: 'pending' | 'running' | 'done' | 'failed';
  messages: Generated<number>;
  imported: Generated<number>;
  skipped: Generated<number>;
  failed: Generated<number>;
  bytes: Generated<number>;
  bytes_done: Generated<number>;
  error: string | null;
}

export interface ImportUidTable {
  folder_id: number;
  uid: number;
  /** i = imported, s = skipped (duplicate or gone), f = failed */
  outcome: 'i' | 's' | 'f';
}

export interface ImportFailureTable {
  id: Generated<number>;
  folder_id: number;
  uid: number;
  reason: 'too_large' | 'empty' | 'fetch' | 'store';
  detail: string;
  size: number;
  subject: string;
  at: number;
}

/** A greylisting triplet (bundled plugin greylist). */
export interface GreylistTripletTable {
  /** the client's /24 (IPv4) or /64 (IPv6) network */
  network: string;
  /** lower-case envelope sender, '' for the null sender */
  sender: string;
  recipient: string;
  first_seen: number;
  /** null until the sender retried after the delay */
  passed_at: number | null;
  last_seen: number;
}

/** A sender domain a recipient already knows (greylist's known-sender rule). */
export interface GreylistKnownTable {
  recipient: string;
  domain: string;
  last_seen: number;
}

export interface Database {
  domains: DomainTable;
  accounts: AccountTable;
  aliases: AliasTable;
  forwards: ForwardTable;
  forward_destinations: ForwardDestinationTable;
  mailboxes: MailboxTable;
  messages: MessageTable;
  expunges: ExpungeTable;
  blobs: BlobTable;
  queue: QueueTable;
  queue_recipients: QueueRecipientTable;
  server_secrets: ServerSecretTable;
  audit_log: AuditTable;
  admins: AdminTable;
  admin_sessions: AdminSessionTable;
  api_tokens: ApiTokenTable;
  import_jobs: ImportJobTable;
  import_folders: ImportFolderTable;
  import_uids: ImportUidTable;
  import_failures: ImportFailureTable;
  greylist_triplets: GreylistTripletTable;
  greylist_known: GreylistKnownTable;
}

export type Domain = Selectable<DomainTable>;
export type Account = Selectable<AccountTable>;
export type NewAccount = Insertable<AccountTable>;
export type AccountUpdate = Updateable<AccountTable>;
export type Mailbox = Selectable<MailboxTable>;
export type Message = Selectable<MessageTable>;
export type Alias = Selectable<AliasTable>;
export type Forward = Selectable<ForwardTable>;
export type QueueEntry = Selectable<QueueTable>;
export type QueueRecipient = Selectable<QueueRecipientTable>;
export type AuditEntry = Selectable<AuditTable>;
export type Admin = Selectable<AdminTable>;
export type AdminSession = Selectable<AdminSessionTable>;
export type ApiToken = Selectable<ApiTokenTable>;
export type ImportJob = Selectable<ImportJobTable>;
export type ImportFolder = Selectable<ImportFolderTable>;
export type ImportFailure = Selectable<ImportFailureTable>;
export type Timestamp = ColumnType<number, number, number>;
