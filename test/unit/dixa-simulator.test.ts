import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Window } from '../../src/contracts/window';
import { DixaSimulator } from '../../src/simulators/dixa';

const DAY = 86_400_000;

describe('Dixa simulator: the exports API', () => {
  const window: Window = { from: '2024-03-01T00:00:00.000Z', to: '2024-03-02T00:00:00.000Z' };
  const sim = new DixaSimulator({ seed: 'errors', generate: { count: 30, from: window.from, to: window.to, size: { min: 1, max: 10 } } });
  beforeAll(() => sim.start());
  afterAll(() => sim.stop());

  it('refuses windows over 31 days, as the API does, and answers the conversation export with Basic credentials', async () => {
    const res = await fetch(`${sim.exportsBaseUrl}/v1/message_export?created_after=0&created_before=${31 * DAY + 1}`, {
      headers: { authorization: `Bearer ${sim.apiToken}` },
    });
    expect(res.status).toBe(400);
    await res.body?.cancel();
    const basic = `Basic ${Buffer.from(`bearer:${sim.apiToken}`).toString('base64')}`;
    const conversations = await fetch(`${sim.exportsBaseUrl}/v1/conversation_export?created_after=2024-03-01&created_before=2024-03-02`, {
      headers: { authorization: basic },
    });
    expect(conversations.status).toBe(200);
    expect(((await conversations.json()) as Array<{ id: number }>).map((c) => c.id)).toEqual(
      Array.from({ length: 10 }, (_, k) => 100_000 + k),
    );
  });
});
