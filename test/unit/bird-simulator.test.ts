import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BirdSimulator } from '../../src/simulators/bird';

/** The OpenAPI document of Bird's "Get a Recording" page (../shared/seeds/bird-get-a-recording.md), as published. */
const spec = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'bird-voice-openapi.json'), 'utf8')) as {
  components: { schemas: Record<string, unknown> };
};

function validator(name: string) {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  // OpenAPI's $refs point at #/components/schemas/...; give ajv the same document shape.
  ajv.addSchema({ $id: 'bird', components: spec.components });
  return ajv.compile({ $ref: `bird#/components/schemas/${name}` });
}

describe('the Bird simulator speaks the published schema', () => {
  const recordings = BirdSimulator.generate({
    seed: 'schema',
    count: 30,
    from: '2026-01-01T00:00:00Z',
    to: '2026-01-02T00:00:00Z',
    size: { min: 10, max: 1000 },
    statuses: { absent: 2, ongoing: 2, failed: 1 },
  });
  const sim = new BirdSimulator({ seed: 'schema', recordings });
  const auth = { authorization: `AccessKey ${sim.accessKey}` };
  const recording = validator('Recording');
  const error = validator('Error');

  beforeAll(() => sim.start());
  afterAll(() => sim.stop());

  it('answers recording metadata, in every status, that validates against Recording', async () => {
    for (const rec of recordings) {
      const res = await fetch(`${sim.baseUrl}/workspaces/${sim.workspaceId}/recordings/${rec.id}`, { headers: auth });
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(recording(body), JSON.stringify(recording.errors)).toBe(true);
    }
  });

  it('lists pages whose results validate against Recording, with a page token until the end', async () => {
    let token: string | undefined;
    let seen = 0;
    do {
      const url = new URL(`${sim.baseUrl}/workspaces/${sim.workspaceId}/recordings`);
      url.searchParams.set('limit', '7');
      if (token) url.searchParams.set('pageToken', token);
      const body = (await (await fetch(url, { headers: auth })).json()) as { results: unknown[]; nextPageToken?: string };
      for (const r of body.results) expect(recording(r), JSON.stringify(recording.errors)).toBe(true);
      seen += body.results.length;
      token = body.nextPageToken;
    } while (token);
    expect(seen).toBe(recordings.length);
  });

  it('answers 404 and 422 with bodies that validate against Error, and 401 without the access key', async () => {
    const missing = await fetch(`${sim.baseUrl}/workspaces/${sim.workspaceId}/recordings/00000000-0000-4000-8000-000000000000`, {
      headers: auth,
    });
    expect(missing.status).toBe(404);
    expect(error(await missing.json())).toBe(true);
    const badLimit = await fetch(`${sim.baseUrl}/workspaces/${sim.workspaceId}/recordings?limit=500`, { headers: auth });
    expect(badLimit.status).toBe(422);
    expect(error(await badLimit.json())).toBe(true);
    expect((await fetch(`${sim.baseUrl}/workspaces/${sim.workspaceId}/recordings`)).status).toBe(401);
  });

  it('answers the media endpoint with 307 to a signed URL on another origin that serves Range', async () => {
    const rec = recordings.find((r) => r.status === 'available')!;
    const res = await fetch(`${sim.baseUrl}/workspaces/${sim.workspaceId}/recordings/${rec.id}.mp3`, { headers: auth, redirect: 'manual' });
    expect(res.status).toBe(307);
    const location = new URL(res.headers.get('location')!);
    expect(location.origin).not.toBe(new URL(sim.baseUrl).origin);
    expect(location.searchParams.get('X-Amz-Expires')).toBe('600');
    const part = await fetch(location, { headers: { range: 'bytes=3-' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 3-${rec.size - 1}/${rec.size}`);
    expect((await part.arrayBuffer()).byteLength).toBe(rec.size - 3);
  });
});

describe('the Bird simulator enforces a published rate limit when asked', () => {
  const recordings = BirdSimulator.generate({
    seed: 'rate',
    count: 3,
    from: '2026-01-01T00:00:00Z',
    to: '2026-01-02T00:00:00Z',
    size: { min: 10, max: 10 },
  });
  let now = 1_700_000_000_000;
  const sim = new BirdSimulator({ seed: 'rate', recordings, apiRequestsPerSecond: 5, clock: () => now });
  const auth = { authorization: `AccessKey ${sim.accessKey}` };
  const meta = (id: string) => fetch(`${sim.baseUrl}/workspaces/${sim.workspaceId}/recordings/${id}`, { headers: auth });

  beforeAll(() => sim.start());
  afterAll(() => sim.stop());

  it('answers 429 with Retry-After beyond the limit in one second, never on the storage origin, and serves again the next second', async () => {
    const id = recordings[0]!.id;
    const statuses: number[] = [];
    let signed = '';
    for (let i = 0; i < 7; i++) {
      const res = await meta(id);
      statuses.push(res.status);
      if (res.status === 200) signed = ((await res.json()) as { url: string }).url;
      else expect(res.headers.get('retry-after')).toBe('1');
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    // The signed URL's object store is not Bird's API: the quota does not reach it.
    for (let i = 0; i < 3; i++) expect((await fetch(signed)).status).toBe(200);
    now += 1000;
    expect((await meta(id)).status).toBe(200);
  });
});
