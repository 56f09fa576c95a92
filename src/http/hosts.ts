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

// --- where a URL may point -------------------------------------------------------------------

/**
 * Where a host is, for the rule that a connection reaches the public internet only unless it says
 * otherwise: `public`; `private` (loopback, private and carrier-grade NAT ranges, unique-local IPv6,
 * `localhost`, single-label and `.internal`/`.local` names: allowed only with `allowPrivateNetwork`);
 * or `forbidden` whatever the configuration says (link-local, where every cloud's metadata service
 * answers with the machine's own credentials, the metadata names and addresses, `0.0.0.0`, multicast).
 */
export type HostClass = { kind: 'public' } | { kind: 'private' | 'forbidden'; why: string };

const PUBLIC: HostClass = { kind: 'public' };
const privateHost = (why: string): HostClass => ({ kind: 'private', why });
const forbidden = (why: string): HostClass => ({ kind: 'forbidden', why });
const METADATA = 'a cloud metadata service';

const METADATA_NAMES = [
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.azure.com',
];
const PRIVATE_SUFFIXES = ['.localhost', '.internal', '.local', '.lan', '.home.arpa', '.intranet', '.corp'];

/** Classifies a host name or IP address (IPv6 with or without brackets); names are not resolved. */
export function classifyHost(host: string): HostClass {
  const name = host
    .toLowerCase()
    .replace(/\.$/, '')
    .replace(/^\[(.*)\]$/, '$1');
  const v4 = parseIpv4(name);
  if (v4) return classifyIpv4(v4);
  if (name.includes(':')) {
    const v6 = parseIpv6(name);
    return v6 ? classifyIpv6(v6) : forbidden('not an IP address');
  }
  if (METADATA_NAMES.includes(name)) return forbidden(METADATA);
  if (name === 'localhost') return privateHost('loopback');
  if (!name.includes('.')) return privateHost('a single-label name, resolved on the local network');
  if (PRIVATE_SUFFIXES.some((s) => name.endsWith(s))) return privateHost('a local-network name');
  return PUBLIC;
}

function parseIpv4(s: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  const octets = m?.slice(1).map(Number);
  return octets?.every((o) => o <= 255) ? octets : undefined;
}

function classifyIpv4([a, b, c, d]: number[]): HostClass {
  const [x = 0, y = 0, z = 0, w = 0] = [a, b, c, d];
  if (x === 169 && y === 254) return forbidden(`link-local, where ${METADATA} answers`);
  if (x === 100 && y === 100 && z === 100 && w === 200) return forbidden(METADATA);
  if (x === 192 && y === 0 && z === 0) return forbidden('IETF protocol assignments, where a cloud metadata service answers');
  if (x === 0) return forbidden('"this network" (0.0.0.0 reaches the local machine)');
  if (x >= 224) return forbidden('multicast or reserved');
  if (x === 127) return privateHost('loopback');
  if (x === 10 || (x === 172 && y >= 16 && y <= 31) || (x === 192 && y === 168)) return privateHost('a private network');
  if (x === 100 && y >= 64 && y <= 127) return privateHost('carrier-grade NAT');
  if (x === 198 && (y === 18 || y === 19)) return privateHost('a benchmarking network');
  return PUBLIC;
}

/** Eight 16-bit groups, or undefined when `s` is not an IPv6 address. */
function parseIpv6(s: string): number[] | undefined {
  let text = s.replace(/%.*$/, ''); // a zone id (fe80::1%eth0) names an interface, not an address
  const tail = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (tail) {
    const v4 = parseIpv4(tail[1]!);
    if (!v4) return undefined;
    text = `${text.slice(0, -tail[1]!.length)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = 8 - head.length - rest.length;
  if ((halves.length === 2 && fill < 1) || (halves.length === 1 && fill !== 0)) return undefined;
  const all = [...head, ...Array<string>(Math.max(fill, 0)).fill('0'), ...rest];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return all.map((g) => parseInt(g, 16));
}

function classifyIpv6(g: number[]): HostClass {
  const embedded = [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff];
  const zeros = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeros(8)) return forbidden('the unspecified address');
  if (zeros(7) && g[7] === 1) return privateHost('loopback');
  if (zeros(5) && g[5] === 0xffff) return classifyIpv4(embedded); // IPv4-mapped
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(0)) return classifyIpv4(embedded); // NAT64
  if (g[0] === 0xfd00 && g[1] === 0x0ec2 && g.slice(2, 7).every((x) => x === 0) && g[7] === 0x254) return forbidden(METADATA);
  if ((g[0]! & 0xffc0) === 0xfe80) return forbidden('link-local');
  if ((g[0]! & 0xff00) === 0xff00) return forbidden('multicast');
  if ((g[0]! & 0xfe00) === 0xfc00) return privateHost('a unique-local network');
  return PUBLIC;
}

/** How to say that a private address needs the connection's allowance. */
export const PRIVATE_NETWORK_HINT =
  'set "allowPrivateNetwork": true on the connection if this is intended (simulators, an on-premises platform)';

const MAX_URL_LENGTH = 2048;

/**
 * Why `raw` cannot be a service URL (a platform's base URL, the S3 endpoint), or undefined when it
 * can: http(s) only, no credentials or query in it, and not pointing at a forbidden host, nor at a
 * private one unless `allowPrivateNetwork`. `secretHint` says where credentials go instead.
 */
export function serviceUrlProblem(raw: unknown, rules: { allowPrivateNetwork: boolean; secretHint: string }): string | undefined {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_URL_LENGTH)
    return `expected an http(s) URL of at most ${MAX_URL_LENGTH} characters`;
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) return 'a URL has no spaces or control characters';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'expected an http(s) URL such as https://api.example.com';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `only http and https URLs are allowed, got ${url.protocol}`;
  if (url.username || url.password) return `credentials in the URL are refused: ${rules.secretHint}`;
  if (url.search || url.hash || raw.includes('?') || raw.includes('#')) return 'a base URL has no query string or fragment';
  return hostProblem(url.hostname, rules.allowPrivateNetwork);
}

/** Why a URL's host or an allow-list entry may not be reached, or undefined. */
export function hostProblem(host: string, allowPrivateNetwork: boolean): string | undefined {
  const where = classifyHost(host);
  if (where.kind === 'forbidden') return `${host} is ${where.why}: refused`;
  if (where.kind === 'private' && !allowPrivateNetwork) return `${host} is ${where.why}; ${PRIVATE_NETWORK_HINT}`;
  return undefined;
}

/**
 * Why a host allow-list entry (`host`, `host:port`, `*.domain[:port]`) is not acceptable: its host
 * as for URLs, and a wildcard must name a domain of two labels or more (`*.com` admits the world)
 * and cover no metadata name.
 */
export function hostPatternProblem(pattern: string, allowPrivateNetwork: boolean): string | undefined {
  const [host = '', port] = splitHostPort(pattern.toLowerCase());
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return `port ${port} is outside 1-65535`;
  if (!host.startsWith('*.')) return hostProblem(host, allowPrivateNetwork);
  const domain = host.slice(2);
  if (!domain.includes('.')) return `${pattern} admits every host under .${domain}; name a domain such as *.example.com`;
  const metadata = METADATA_NAMES.find((n) => n.endsWith(`.${domain}`));
  if (metadata) return `${pattern} covers ${metadata}, ${METADATA}: refused`;
  const problem = hostProblem(`x.${domain}`, allowPrivateNetwork);
  return problem === undefined ? undefined : `${pattern} covers ${problem}`;
}
