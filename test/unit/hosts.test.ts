import { describe, expect, it } from 'vitest';
import { classifyHost, hostAllowed, hostMatches, hostPatternProblem, serviceUrlProblem, withoutSecrets } from '../../src/http/hosts';

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

describe('where a URL may point', () => {
  it.each([
    ['93.184.216.34', 'public'],
    ['api.bird.com', 'public'],
    ['169.254.169.254', 'forbidden'],
    ['169.254.170.2', 'forbidden'],
    ['100.100.100.200', 'forbidden'],
    ['192.0.0.192', 'forbidden'],
    ['0.0.0.0', 'forbidden'],
    ['224.0.0.1', 'forbidden'],
    ['metadata.google.internal', 'forbidden'],
    ['METADATA.GOOGLE.INTERNAL.', 'forbidden'],
    ['[fd00:ec2::254]', 'forbidden'],
    ['fe80::1%eth0', 'forbidden'],
    ['[::]', 'forbidden'],
    ['[::ffff:a9fe:a9fe]', 'forbidden'],
    ['::ffff:169.254.169.254', 'forbidden'],
    ['[64:ff9b::a9fe:a9fe]', 'forbidden'],
    ['[ff02::1]', 'forbidden'],
    ['127.0.0.1', 'private'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['[::1]', 'private'],
    ['[fd12:3456::1]', 'private'],
    ['localhost', 'private'],
    ['app.localhost', 'private'],
    ['seaweedfs', 'private'],
    ['db.internal', 'private'],
    ['172.32.0.1', 'public'],
    ['[2001:db8::1]', 'public'],
  ])('classifies %s as %s', (host, kind) => {
    expect(classifyHost(host).kind).toBe(kind);
  });

  it('sees through the spellings the URL parser normalizes', () => {
    for (const url of [
      'http://2852039166/',
      'http://0xa9fea9fe/',
      'http://0251.0376.0251.0376/',
      'http://169.254.169.254./',
      'http://[::ffff:169.254.169.254]/',
      'HTTP://169.254.169.254:80/',
    ]) {
      expect(serviceUrlProblem(url, { allowPrivateNetwork: true, secretHint: '' }), url).toMatch(/link-local.*: refused/);
    }
  });

  it('checks allow-list entries the same way', () => {
    expect(hostPatternProblem('*.amazonaws.com', false)).toBeUndefined();
    expect(hostPatternProblem('127.0.0.1:9000', true)).toBeUndefined();
    expect(hostPatternProblem('127.0.0.1:9000', false)).toMatch(/loopback/);
    expect(hostPatternProblem('169.254.169.254', true)).toMatch(/refused/);
    expect(hostPatternProblem('*.internal', true)).toMatch(/admits every host/);
    expect(hostPatternProblem('*.svc.internal', false)).toMatch(/covers x\.svc\.internal is a local-network name/);
    expect(hostPatternProblem('files.example.com:70000', false)).toMatch(/port 70000 is outside/);
  });
});
