// Which local folder each remote folder goes into: INBOX, special use (RFC 6154), common German and English names,
// the remote hierarchy kept under '/'; Gmail's virtual folders (All Mail, Starred, Important) are proposed as skipped.
import { DEFAULT_MAILBOXES, HIERARCHY_DELIMITER, checkMailboxName, MailboxError, normalizeMailboxName } from '../store/mailboxes.js';
import { invalid } from '../directory/errors.js';

/** A folder as the remote server lists it. */
export interface RemoteFolder {
  /** Unicode path with the remote delimiter */
  path: string;
  delimiter: string;
  /** RFC 6154 special use the server announced (or imapflow derived from the name) */
  specialUse?: string;
  /** 'extension': announced by the server; 'name': guessed from a localized name */
  specialUseSource?: string;
  /** LIST attributes (\Noselect, \HasChildren, Gmail's \Important …) */
  flags: string[];
  messages: number | null;
  bytes: number | null;
}

export type MappingReason = 'inbox' | 'special-use' | 'name' | 'hierarchy' | 'same-name' | 'all-mail' | 'virtual' | 'not-selectable';

export interface ProposedFolder extends RemoteFolder {
  selectable: boolean;
  /** the local folder it goes into; null = skipped */
  local: string | null;
  reason: MappingReason;
}

export interface LocalFolder {
  name: string;
  specialUse: string | null;
}

/** Folder names (compared lower-case) that mean INBOX or a special-use folder, as providers and clients call them. */
const COMMON_NAMES: Record<string, string[]> = {
  INBOX: ['inbox', 'posteingang'],
  '\\Sent': ['sent', 'sent items', 'sent messages', 'sent mail', 'gesendet', 'gesendete elemente', 'gesendete objekte', 'gesendete nachrichten'],
  '\\Drafts': ['drafts', 'draft', 'entwürfe', 'entwurf'],
  '\\Trash': ['trash', 'deleted items', 'deleted messages', 'papierkorb', 'gelöschte elemente', 'gelöschte objekte', 'gelöschte nachrichten', 'bin'],
  '\\Junk': ['junk', 'spam', 'junk e-mail', 'junk-e-mail', 'junk email', 'bulk mail', 'spamverdacht'],
  '\\Archive': ['archive', 'archiv', 'archives']
};
const BY_NAME = new Map(Object.entries(COMMON_NAMES).flatMap(([use, names]) => names.map((n) => [n, use] as const)));
const IMPORTED_SPECIAL_USES = new Set(['\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive']);

/** The remote path's levels, without the personal namespace prefix (Courier's "INBOX." is not a real level). */
export function remoteLevels(folder: Pick<RemoteFolder, 'path' | 'delimiter'>, namespacePrefix = ''): string[] {
  let path = folder.path;
  if (namespacePrefix && path.toUpperCase() !== 'INBOX' && path.startsWith(namespacePrefix)) path = path.slice(namespacePrefix.length);
  return folder.delimiter ? path.split(folder.delimiter) : [path];
}

/** One remote level as a local level: '/' is our delimiter, and '*', '%' and control characters are not allowed. */
function localLevel(level: string): string {
  const cleaned = level.replace(/\//g, '-').replace(/[\x00-\x1f\x7f*%]/g, '_').trim();
  return cleaned || '_';
}

function specialFolder(local: LocalFolder[], use: string): string {
  if (use === 'INBOX') return 'INBOX';
  return local.find((f) => f.specialUse === use)?.name ?? DEFAULT_MAILBOXES.find((m) => m.specialUse === use)!.name;
}

const hasFlag = (folder: RemoteFolder, flag: string) => folder.flags.some((f) => f.toLowerCase() === flag.toLowerCase());

/**
 * Proposes a local folder for every remote folder. A remote folder whose parent is mapped keeps its place below
 * the parent's local folder ("Gesendete Elemente/2019" -> "Sent/2019"); everything else keeps its name.
 */
export function proposeMapping(remote: RemoteFolder[], local: LocalFolder[], namespacePrefix = ''): ProposedFolder[] {
  const byPath = new Map(remote.map((f) => [f.path, f]));
  const naming = new Map<string, string>(); // remote path -> local name it has (or would have), for its children
  const proposals: ProposedFolder[] = [];

  const nameOf = (folder: RemoteFolder): { name: string; reason: MappingReason } => {
    const levels = remoteLevels(folder, namespacePrefix);
    if (folder.path.toUpperCase() === 'INBOX') return { name: 'INBOX', reason: 'inbox' };
    if (folder.specialUse && folder.specialUseSource !== 'name' && IMPORTED_SPECIAL_USES.has(folder.specialUse)) {
      return { name: specialFolder(local, folder.specialUse), reason: 'special-use' };
    }
    if (levels.length === 1) {
      const use = BY_NAME.get(levels[0].normalize('NFC').toLowerCase()) ?? (folder.specialUse && IMPORTED_SPECIAL_USES.has(folder.specialUse) ? folder.specialUse : undefined);
      if (use) return { name: specialFolder(local, use), reason: 'name' };
    }
    const parentPath = folder.delimiter ? folder.path.slice(0, folder.path.lastIndexOf(folder.delimiter)) : '';
    const parent = parentPath && parentPath !== folder.path ? byPath.get(parentPath) : undefined;
    const leaf = localLevel(levels[levels.length - 1]);
    if (parent && levels.length > 1) return { name: normalizeMailboxName(`${naming.get(parent.path) ?? nameOf(parent).name}${HIERARCHY_DELIMITER}${leaf}`), reason: 'hierarchy' };
    return { name: normalizeMailboxName(levels.map(localLevel).join(HIERARCHY_DELIMITER)), reason: 'same-name' };
  };

  // parents before children, so a child finds its parent's local name
  const ordered = [...remote].sort((a, b) => a.path.split(a.delimiter || '\0').length - b.path.split(b.delimiter || '\0').length);
  for (const folder of ordered) {
    const { name, reason } = nameOf(folder);
    naming.set(folder.path, name);
    const selectable = !hasFlag(folder, '\\Noselect') && !hasFlag(folder, '\\NonExistent');
    let proposal: ProposedFolder = { ...folder, selectable, local: name, reason };
    // Gmail: "All Mail" holds every message again, "Starred" and "Important" are views onto other folders
    if (!selectable) proposal = { ...proposal, local: null, reason: 'not-selectable' };
    else if (folder.specialUse === '\\All' || hasFlag(folder, '\\All')) proposal = { ...proposal, local: null, reason: 'all-mail' };
    else if (folder.specialUse === '\\Flagged' || hasFlag(folder, '\\Flagged') || hasFlag(folder, '\\Important')) proposal = { ...proposal, local: null, reason: 'virtual' };
    proposals.push(proposal);
  }
  return proposals.sort((a, b) => remote.indexOf(byPath.get(a.path)!) - remote.indexOf(byPath.get(b.path)!));
}

export interface MappingEntry {
  remote: string;
  /** local folder name; null = skip */
  local: string | null;
}

/**
 * Checks a mapping the owner sent against the remote folders: every remote folder named once and selectable, every
 * local name valid. Errors name the entry (`mapping.3.local`). Returns the entries that import something.
 */
export function checkMapping(entries: MappingEntry[], remote: RemoteFolder[]): Array<{ remote: RemoteFolder; local: string }> {
  const byPath = new Map(remote.map((f) => [f.path, f]));
  const seen = new Set<string>();
  const result: Array<{ remote: RemoteFolder; local: string }> = [];
  entries.forEach((entry, i) => {
    const folder = byPath.get(entry.remote);
    if (!folder) throw invalid(`mapping.${i}.remote`, 'exists', `the remote server has no folder "${entry.remote}"`);
    if (seen.has(entry.remote)) throw invalid(`mapping.${i}.remote`, 'unique', `"${entry.remote}" is mapped twice`);
    seen.add(entry.remote);
    if (entry.local === null) return;
    if (hasFlag(folder, '\\Noselect') || hasFlag(folder, '\\NonExistent')) throw invalid(`mapping.${i}.remote`, 'selectable', `"${entry.remote}" holds no messages (only subfolders); map it to null`);
    const local = normalizeMailboxName(entry.local.trim());
    try {
      checkMailboxName(local);
    } catch (err) {
      if (err instanceof MailboxError) throw invalid(`mapping.${i}.local`, 'folderName', `"${entry.local}": ${err.message}`);
      throw err;
    }
    result.push({ remote: folder, local });
  });
  if (!result.length) throw invalid('mapping', 'minItems', 'the mapping imports no folder');
  return result;
}
