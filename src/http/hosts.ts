/**
 * Host allow-lists. A pattern is `host`, `host:port` or `*.domain[:port]`; a pattern without a
 * port admits only the scheme's default port, so `files.example.com` never matches
 * `files.example.com:8443` (a crafted link must not reach another service on the same host).
 */
export function hostMatches(url: URL, pattern: string): boolean {
  const [patternHost = '', patternPort] = splitHostPort(pattern.toLowerCase());
  const port = url.port || (url.protocol === 'https:' ? '443' : url.protocol === 'http:' ? '80' : '');
  const defaultPort = url.protocol === 'https:' ? '443' : '80';
  if ((patternPort ?? defaultPort) !== port) return false;
  const host = url.hostname.toLowerCase();
  if (patternHost.startsWith('*.')) {
    const suffix = patternHost.slice(1);
    return host.endsWith(suffix) && host.length > suffix.length;
  }
  return host === patternHost;
}

export function hostAllowed(url: URL, patterns: readonly string[]): boolean {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
  if (url.username || url.password) return false;
  return patterns.some((p) => hostMatches(url, p));
}

function splitHostPort(value: string): [string, string | undefined] {
  const match = /^(.*?)(?::(\d+))?$/.exec(value);
  return [match?.[1] ?? value, match?.[2]];
}

/** The host part of a URL as an allow-list entry (host:port when the port is not the default). */
export function hostPatternOf(url: string | URL): string {
  const u = typeof url === 'string' ? new URL(url) : url;
  return u.port ? `${u.hostname}:${u.port}` : u.hostname;
}

/** A URL with query string, fragment and user info removed: safe to keep in provenance and logs. */
export function withoutSecrets(url: string | URL): string {
  const u = new URL(typeof url === 'string' ? url : url.href);
  u.search = '';
  u.hash = '';
  u.username = '';
  u.password = '';
  return u.href;
}
