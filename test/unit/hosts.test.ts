import { describe, expect, it } from 'vitest';
import { hostAllowed, hostMatches, withoutSecrets } from '../../src/http/hosts';

describe('host allow-lists', () => {
  it('match exact hosts on the default port only', () => {
    expect(hostMatches(new URL('https://files.dixa.io/x'), 'files.dixa.io')).toBe(true);
    expect(hostMatches(new URL('https://files.dixa.io:8443/x'), 'files.dixa.io')).toBe(false);
    expect(hostMatches(new URL('http://127.0.0.1:9000/x'), '127.0.0.1:9000')).toBe(true);
    expect(hostMatches(new URL('http://127.0.0.1:9001/x'), '127.0.0.1:9000')).toBe(false);
  });

  it('match wildcard subdomains but not the bare domain or look-alikes', () => {
    expect(hostMatches(new URL('https://a.s3.amazonaws.com/'), '*.amazonaws.com')).toBe(true);
    expect(hostMatches(new URL('https://amazonaws.com/'), '*.amazonaws.com')).toBe(false);
    expect(hostMatches(new URL('https://evilamazonaws.com/'), '*.amazonaws.com')).toBe(false);
  });

  it('refuse user info and other schemes', () => {
    expect(hostAllowed(new URL('https://user:pw@files.dixa.io/'), ['files.dixa.io'])).toBe(false);
    expect(hostAllowed(new URL('file:///etc/passwd'), ['files.dixa.io'])).toBe(false);
    expect(hostAllowed(new URL('https://files.dixa.io.evil.com/'), ['files.dixa.io'])).toBe(false);
  });

  it('strip signatures and credentials from URLs kept in provenance', () => {
    expect(withoutSecrets('https://u:p@s3.example.com/a/b.mp3?X-Amz-Signature=abc#frag')).toBe('https://s3.example.com/a/b.mp3');
  });
});
