// Just enough of the IMAP grammar to write argument lists readably in tests: atoms, quoted strings, parenthesized
// lists. Unlike the server's parser it takes 8-bit atoms, so tests can write `SUBJECT größe` directly.
import type { ImapValue } from '../../server/imap/parser.js';

export function values(text: string): ImapValue[] {
  let pos = 0;
  const list = (): ImapValue[] => {
    const items: ImapValue[] = [];
    while (pos < text.length) {
      const ch = text[pos]!;
      if (ch === ' ') pos++;
      else if (ch === ')') {
        pos++;
        return items;
      } else if (ch === '(') {
        pos++;
        items.push({ type: 'list', items: list() });
      } else if (ch === '"') {
        let out = '';
        pos++;
        while (text[pos] !== '"') {
          if (text[pos] === '\\') pos++;
          out += text[pos++];
        }
        pos++;
        items.push({ type: 'string', value: Buffer.from(out, 'utf8'), literal: false });
      } else {
        const end = text.slice(pos).search(/[ ()]/);
        const atom = end === -1 ? text.slice(pos) : text.slice(pos, pos + end);
        pos += atom.length;
        items.push({ type: 'atom', value: atom });
      }
    }
    return items;
  };
  return list();
}
