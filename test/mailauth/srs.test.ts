// SRS rewriting and reversal: the format other forwarders and bounce handlers see, case changes on the way, the
// 21-day validity, forged hashes, and SRS1 when the sender is another forwarder's SRS0 address.
import { describe, expect, it } from 'vitest';
import { Srs } from '../../server/mailauth/srs.js';

const DAY = 86_400_000;
const key = Buffer.alloc(32, 7);
const at = (ms: number) => new Srs(key, () => ms);
const now = Date.UTC(2026, 10, 23);

describe('SRS', () => {
  it('rewrites a remote sender to SRS0 at the forwarding domain and back', () => {
    const rewritten = at(now).forward('Alice.B+tag@Sender.example', 'firma.de');
    expect(rewritten).toMatch(/^SRS0=[A-Z2-7]{6}=[A-Z2-7]{2}=sender\.example=Alice\.B\+tag@firma\.de$/);
    expect(at(now).reverse(rewritten)).toBe('Alice.B+tag@sender.example');
    // receivers may lower-case the local part of a bounce address
    expect(at(now).reverse(rewritten.toLowerCase())).toBe('alice.b+tag@sender.example');
  });

  it('leaves the null sender and senders of the forwarding domain alone', () => {
    expect(at(now).forward('', 'firma.de')).toBe('');
    expect(at(now).forward('info@firma.de', 'firma.de')).toBe('info@firma.de');
  });

  it('accepts a bounce for 21 days and not after; refuses a forged hash or another key', () => {
    const rewritten = at(now).forward('a@b.example', 'firma.de');
    expect(at(now + 21 * DAY).reverse(rewritten)).toBe('a@b.example');
    expect(at(now + 22 * DAY).reverse(rewritten)).toBeNull();
    expect(at(now).reverse(rewritten.replace(/^SRS0=[A-Z2-7]{6}/, 'SRS0=AAAAAA'))).toBeNull();
    expect(new Srs(Buffer.alloc(32, 8), () => now).reverse(rewritten)).toBeNull();
    expect(at(now).reverse('someone@firma.de')).toBeNull();
  });

  it('wraps another forwarder’s SRS0 as SRS1, whose reversal goes back through that forwarder', () => {
    const theirs = new Srs(Buffer.alloc(32, 1), () => now).forward('a@b.example', 'other.example');
    const ours = at(now).forward(theirs, 'firma.de');
    expect(ours).toMatch(/^SRS1=[A-Z2-7]{6}=other\.example==[A-Z2-7]{6}=[A-Z2-7]{2}=b\.example=a@firma\.de$/);
    expect(at(now).reverse(ours)).toBe(theirs);
    // and an SRS1 passed on once more keeps pointing at the first forwarder
    const third = new Srs(Buffer.alloc(32, 3), () => now);
    expect(third.reverse(third.forward(ours, 'third.example'))).toBe(theirs);
  });
});
