import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SourceItem } from '../../src/contracts/sourceItem';
import type { Window } from '../../src/contracts/window';
import { connectionSchemaFor } from '../../src/config/schema';
import { CredentialsRejectedError, UnavailableError } from '../../src/errors';
import type { ConnectionBase } from '../../src/providers/connection';
import { createProvider } from '../../src/providers/registry';
import type { ListPage, OpenedDownload, Provider } from '../../src/providers/types';
import { SimServer, type LoggedRequest } from '../../src/simulators/server';
import { objectKey } from '../../src/storage/keys';
import { TEST_PROVIDERS } from './catalog';

/**
 * The provider contract: what every provider must do against its simulator, whatever its
 * platform. A provider is reached only as the worker reaches it (its connection parsed by the
 * configuration's union, built by the registry from the catalog), and its platform is described to
 * the suite by an adapter in the platform's own terms. A new provider passes this, or it is not done.
 */

/** One file of the scenario, in neutral terms; the adapter makes it a recording, message or session of its platform. */
export interface ContractFile {
  /** The platform's id of the file (letters and digits: valid on every platform). */
  key: string;
  createdAt: string;
  size: number;
  /** `not_ready`: the platform has it but cannot serve it yet; `final`: it says it never will. */
  state: 'ready' | 'not_ready' | 'final';
  /** A file name, where the platform has names (adapter.names). */
  name?: string;
}

export interface ContractScenario {
  window: Window;
  /** Inside the window: more than one page of them. */
  inside: ContractFile[];
  /** Just outside: one second before `from`, and at `to` (the end is exclusive). */
  outside: ContractFile[];
}

/** A provider's platform, running as its simulator with the scenario's files. */
export interface PlatformUnderContract {
  /** The connection's settings as the configuration gives them (`provider` included, secrets by reference). */
  connection: Record<string, unknown>;
  /** The environment its secret references resolve in. */
  env: Record<string, string>;
  /** The same with one secret wrong: the platform refuses it. */
  wrongEnv: Record<string, string>;
  /** Secret values, and the forms they travel in, that must stay on the servers of `credentialServers`. */
  secrets: string[];
  /** The simulator's servers (LoggedRequest.server) that are the platform's API: the only ones credentials may reach. */
  credentialServers: string[];
  /** Headers that carry credentials to the API. */
  credentialHeaders: string[];
  requests: readonly LoggedRequest[];
  /** The scenario key of the file an item names. */
  keyOf(item: SourceItem): string;
  sha256(key: string): Promise<string>;
  /** Switches the media server's Range support; absent where the platform never honours Range. */
  setRange?(on: boolean): void;
  /** The next download of `key` is sent to `url` (a link, a signed URL or a redirect there). */
  linkTo(key: string, url: string): void;
  /** An item like `item` for a file the platform does not have (deleted since it was listed). */
  vanished(item: SourceItem): SourceItem;
  stop(): Promise<void>;
}

export interface ContractAdapter {
  /** The descriptor's name in the catalog. */
  provider: string;
  /** Which scenario states the platform can express; a platform without statuses serves every file it lists. */
  states: ReadonlyArray<ContractFile['state']>;
  /** Whether its files carry names (which the items keep as `originalName`). */
  names: boolean;
  /**
   * Requests one ready file's download costs, as the design chose them: `api` to the platform's
   * API (its `credentialServers`, where its rate limit applies; the descriptor's
   * `limits.requestsPerFile` paces by this count) and `media` to where the bytes are served from.
   */
  requestsPerFile: { api: number; media: number };
  start(scenario: ContractScenario): Promise<PlatformUnderContract>;
}

const WINDOW: Window = { from: '2026-03-02T00:00:00.000Z', to: '2026-03-05T00:00:00.000Z' };
const HOUR = 3_600_000;
const INSIDE = 30;
const HOSTILE = [
  '../../etc/passwd',
  'evil\u0000name\u0007\u001b[31m\r\n.wav',
  `${'n'.repeat(300)}.wav`,
  'C:\\Windows\\system32\\hosts.wav',
];

function scenarioFor(adapter: ContractAdapter): ContractScenario {
  const at = (ms: number) => new Date(Date.parse(WINDOW.from) + ms).toISOString();
  const state = (i: number): ContractFile['state'] => {
    if (i === 4 && adapter.states.includes('not_ready')) return 'not_ready';
    if (i === 9 && adapter.states.includes('final')) return 'final';
    return 'ready';
  };
  const inside = Array.from(
    { length: INSIDE },
    (_, i): ContractFile => ({
      key: `f${String(i).padStart(2, '0')}`,
      // The first at the window's first instant; the rest spread over its three days.
      createdAt: at(i === 0 ? 0 : i * 2 * HOUR + 17_000),
      size: 1_000 + i * 997,
      state: state(i),
      ...(adapter.names ? { name: HOSTILE[i % HOSTILE.length] } : {}),
    }),
  );
  const outside: ContractFile[] = [
    { key: 'before', createdAt: at(-1_000), size: 500, state: 'ready' },
    { key: 'atend', createdAt: WINDOW.to, size: 500, state: 'ready' },
  ];
  return { window: WINDOW, inside, outside };
}

/** Registers the contract's tests for one provider. */
export function providerContract(adapter: ContractAdapter): void {
  describe(`provider contract: ${adapter.provider}`, () => {
    const scenario = scenarioFor(adapter);
    const ready = scenario.inside.filter((f) => f.state === 'ready');
    let platform: PlatformUnderContract;
    let provider: Provider;
    let pages: ListPage[];
    let items: SourceItem[];
    const opened: Provider[] = [];
    const providerFor = (env: Record<string, string>): Provider => {
      const parsed = connectionSchemaFor(TEST_PROVIDERS).parse(platform.connection) as Omit<ConnectionBase, 'name'>;
      const p = createProvider({ ...parsed, name: `${adapter.provider}-contract` }, env, TEST_PROVIDERS);
      opened.push(p);
      return p;
    };
    const itemOf = (key: string) => items.find((i) => platform.keyOf(i) === key)!;

    beforeAll(async () => {
      platform = await adapter.start(scenario);
      provider = providerFor(platform.env);
      pages = await listAll(provider, scenario.window);
      items = pages.flatMap((p) => p.items);
    });
    afterAll(async () => {
      await Promise.all(opened.map((p) => p.close()));
      await platform?.stop();
    });

    it('lists every file created in [from, to) once, and none just outside, over several pages', () => {
      expect(pages.length).toBeGreaterThan(1);
      expect(items.map((i) => platform.keyOf(i)).sort()).toEqual(scenario.inside.map((f) => f.key).sort());
      expect(new Set(items.map((i) => i.sourceId)).size).toBe(items.length);
    });

    it('resumes from a page cursor exactly where that page ended', async () => {
      const rest = await listAll(provider, scenario.window, pages[0]!.nextCursor);
      expect(rest.flatMap((p) => p.items)).toEqual(pages.slice(1).flatMap((p) => p.items));
    });

    it('names files by identity only: the same items on every listing, and no secret or signed URL in them', async () => {
      const again = (await listAll(provider, scenario.window)).flatMap((p) => p.items);
      expect(again).toEqual(items);
      const text = JSON.stringify(items) + pages.map((p) => p.nextCursor ?? '').join('');
      for (const secret of platform.secrets) expect(text).not.toContain(secret);
      expect(text).not.toMatch(/signature|[?&]sig=|x-amz-/i);
    });

    it("downloads every ready file with the platform's bytes", async () => {
      for (const file of ready) {
        const download = ready_(await provider.openDownload(itemOf(file.key), { offset: 0 }));
        expect(download.offset).toBe(0);
        expect(await sha256(download.body), file.key).toBe(await platform.sha256(file.key));
      }
    });

    it('downloads a ready file with the requests per file the design chose, no more', async () => {
      // A fresh provider, so that nothing a provider may cache from an earlier download (a token, a count) saves a request.
      const fresh = providerFor(platform.env);
      for (const file of ready.slice(2, 5)) {
        const before = platform.requests.length;
        await bytes(ready_(await fresh.openDownload(itemOf(file.key), { offset: 0 })).body);
        const made = platform.requests.slice(before);
        const api = made.filter((r) => platform.credentialServers.includes(r.server));
        const listed = made.map((r) => `${r.server} ${r.method} ${r.path} ${r.status}`);
        expect(api.length, `API requests for ${file.key}: ${listed.join('; ')}`).toBe(adapter.requestsPerFile.api);
        expect(made.length - api.length, `media requests for ${file.key}: ${listed.join('; ')}`).toBe(adapter.requestsPerFile.media);
      }
      const descriptor = TEST_PROVIDERS.find((d) => d.name === adapter.provider)!;
      expect(descriptor.limits.requestsPerFile, 'the descriptor paces by the API requests a file costs').toBe(adapter.requestsPerFile.api);
    });

    it('opens a file from a byte offset: Range honoured, or ignored and the whole file from byte 0', async () => {
      const file = ready[ready.length - 1]!;
      const whole = await bytes(ready_(await provider.openDownload(itemOf(file.key), { offset: 0 })).body);
      for (const range of platform.setRange ? [true, false] : [false]) {
        platform.setRange?.(range);
        const download = ready_(await provider.openDownload(itemOf(file.key), { offset: 700 }));
        expect(download.offset).toBe(range ? 700 : 0);
        expect((await bytes(download.body)).equals(whole.subarray(download.offset))).toBe(true);
      }
      platform.setRange?.(true);
    });

    if (adapter.states.includes('not_ready')) {
      it('says "not ready" for a file the platform is still processing, without failing it', async () => {
        const outcome = await provider.openDownload(itemOf(scenario.inside.find((f) => f.state === 'not_ready')!.key), { offset: 0 });
        expect(outcome).toMatchObject({ kind: 'not_ready' });
        if (outcome.kind === 'not_ready') expect(outcome.retryAfterSeconds).toBeGreaterThan(0);
      });
    }

    if (adapter.states.includes('final')) {
      it('gives a file the platform says it will never have up for good, as its final status', async () => {
        const err = await rejection(provider.openDownload(itemOf(scenario.inside.find((f) => f.state === 'final')!.key), { offset: 0 }));
        expect(err).toBeInstanceOf(UnavailableError);
        expect((err as UnavailableError).reason).toBe('provider_final_status');
      });
    }

    it('gives a file the platform no longer has up for good, as not found', async () => {
      const err = await rejection(provider.openDownload(platform.vanished(itemOf(ready[0]!.key)), { offset: 0 }));
      expect(err).toBeInstanceOf(UnavailableError);
      expect((err as UnavailableError).reason).toBe('not_found');
    });

    it('stops on refused credentials after one request, explaining once what to fix, without the secret', async () => {
      const before = platform.requests.length;
      const err = await rejection(providerFor(platform.wrongEnv).listPage(scenario.window, null, { retry: { tries: 3, maxWaitMs: 10 } }));
      expect(err).toBeInstanceOf(CredentialsRejectedError);
      const message = (err as Error).message;
      expect(message).toContain(`'${adapter.provider}-contract'`);
      expect(message.split('Fix:').length - 1).toBe(1);
      for (const secret of [...platform.secrets, ...Object.values(platform.wrongEnv)]) expect(message).not.toContain(secret);
      expect(platform.requests.slice(before).filter((r) => platform.credentialServers.includes(r.server))).toHaveLength(1);
    });

    it("sends credentials to the platform's API only, never to where its files are served from", () => {
      const elsewhere = platform.requests.filter((r) => !platform.credentialServers.includes(r.server));
      expect(elsewhere.length).toBeGreaterThan(0);
      for (const r of elsewhere) {
        for (const header of platform.credentialHeaders) expect(r.headers[header], `${r.server} ${r.path}`).toBeUndefined();
        const headers = JSON.stringify(r.headers);
        for (const secret of platform.secrets) expect(headers).not.toContain(secret);
      }
    });

    it("refuses a link to a host outside the connection's allow-list without calling it", async () => {
      const trapLog: LoggedRequest[] = [];
      const trap = new SimServer('trap', (_req, res) => void res.writeHead(200).end('trapped'), trapLog);
      await trap.start();
      try {
        const file = ready[1]!;
        platform.linkTo(file.key, `${trap.origin}/steal?file=${file.key}`);
        const err = await rejection(provider.openDownload(itemOf(file.key), { offset: 0 }));
        expect(err).toBeInstanceOf(UnavailableError);
        expect((err as UnavailableError).reason).toBe('refused_link');
        expect(trapLog).toEqual([]);
      } finally {
        await trap.stop();
      }
    });

    if (adapter.names) {
      it("keeps hostile file names as given, and out of the object keys' structure", () => {
        expect(new Set(items.map((i) => i.originalName))).toEqual(new Set(HOSTILE));
        for (const item of items) {
          const key = objectKey({
            prefix: 'exports',
            provider: adapter.provider,
            connection: 'c',
            extension: item.extension ?? '',
            ...item,
          });
          expect(key.startsWith(`exports/${adapter.provider}/c/`)).toBe(true);
          expect(key.split('/')).not.toContain('..');
          // eslint-disable-next-line no-control-regex
          expect(key).not.toMatch(/[\u0000-\u001f\u007f\\]/);
        }
      });
    }
  });
}

async function listAll(provider: Provider, window: Window, from: string | null = null): Promise<ListPage[]> {
  const pages: ListPage[] = [];
  let cursor = from;
  do {
    const page = await provider.listPage(window, cursor);
    pages.push(page);
    cursor = page.nextCursor;
    if (pages.length > 100) throw new Error('more than 100 pages: the cursor does not advance');
  } while (cursor !== null);
  return pages;
}

function ready_(outcome: Awaited<ReturnType<Provider['openDownload']>>): OpenedDownload {
  if (outcome.kind !== 'ready') throw new Error(`expected a download, got ${JSON.stringify(outcome)}`);
  return outcome.download;
}

async function bytes(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function sha256(body: Readable): Promise<string> {
  return createHash('sha256')
    .update(await bytes(body))
    .digest('hex');
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a rejection'),
    (err: unknown) => err,
  );
}
