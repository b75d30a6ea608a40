// Modified UTF-7 for mailbox names (RFC 3501 §5.1.3), used with clients that did not ENABLE UTF8=ACCEPT/IMAP4rev2.

/** Encodes a Unicode mailbox name: printable ASCII stays, "&" becomes "&-", runs of others become &<mod-base64 UTF-16BE>-. */
export function encodeMutf7(name: string): string {
  let out = '';
  let run = '';
  const flush = () => {
    if (!run) return;
    const utf16 = Buffer.alloc(run.length * 2);
    for (let i = 0; i < run.length; i++) utf16.writeUInt16BE(run.charCodeAt(i), i * 2);
    out += '&' + utf16.toString('base64').replace(/=+$/, '').replace(/\//g, ',') + '-';
    run = '';
  };
  for (const ch of name) {
    const code = ch.charCodeAt(0);
    if (code >= 0x20 && code <= 0x7e) {
      flush();
      out += ch === '&' ? '&-' : ch;
    } else run += ch;
  }
  flush();
  return out;
}

/** Decodes a modified UTF-7 name; returns null when it is not valid modified UTF-7. */
export function decodeMutf7(name: string): string | null {
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const ch = name[i];
    if (ch !== '&') {
      if (ch.charCodeAt(0) > 0x7e) return null;
      out += ch;
      continue;
    }
    const end = name.indexOf('-', i);
    if (end < 0) return null;
    const b64 = name.slice(i + 1, end);
    i = end;
    if (!b64) {
      out += '&';
      continue;
    }
    if (!/^[A-Za-z0-9+,]+$/.test(b64)) return null;
    const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
    if (bytes.length % 2) return null;
    for (let j = 0; j < bytes.length; j += 2) out += String.fromCharCode(bytes.readUInt16BE(j));
  }
  return out;
}
