import type { IncomingMessage } from 'node:http';
import { extractKeySecret, redactUrl } from './key-extraction';

const SECRET = 'msk_' + 'A'.repeat(43);
const request = (url: string) => ({ url, headers: {} }) as IncomingMessage;

describe('keys in URLs', () => {
  it.each([`/x?%6bey=${SECRET}`, `/x?ke%79=${SECRET}`, `/x?key[]=${SECRET}`, `/x?KEY=${SECRET}`, `/x?%256bey=${SECRET}`, `/x?a=1&key%5B0%5D=${SECRET}`])(
    'never logs the secret of %s, and does not take it as a key',
    (url) => {
      expect(redactUrl(url)).not.toContain(SECRET);
      expect(() => extractKeySecret(request(url))).toThrow(/exactly/);
    },
  );

  it('takes the key under its plain name and redacts it', () => {
    expect(extractKeySecret(request(`/x?a=1&key=${SECRET}`))).toBe(SECRET);
    expect(redactUrl(`/x?a=1&key=${SECRET}&b=2`)).toBe('/x?a=1&key=[redacted]&b=2');
    expect(redactUrl(`/browse/${SECRET}`)).toBe('/browse/[redacted]');
    expect(redactUrl(`/x?other=${encodeURIComponent(SECRET)}`)).not.toContain('msk_');
  });

  it('refuses two keys in the query', () => {
    expect(() => extractKeySecret(request(`/x?key=${SECRET}&key=${SECRET}`))).toThrow(/more than once/);
  });
});
