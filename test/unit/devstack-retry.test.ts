import { describe, expect, it } from 'vitest';
import { ExitedEarlyError, startWithFreshPorts } from '../../src/devstack/process';

describe('starting a server on fresh ports', () => {
  it('tries again when the server died before it was ready', async () => {
    let calls = 0;
    const started = await startWithFreshPorts(async () => {
      calls++;
      if (calls < 3) throw new ExitedEarlyError('weed exited before S3 accepted writes');
      return 'up';
    });
    expect(started).toBe('up');
    expect(calls).toBe(3);
  });

  it('gives up after the last attempt, and never retries a slow or misconfigured start', async () => {
    let calls = 0;
    await expect(
      startWithFreshPorts(async () => {
        calls++;
        throw new ExitedEarlyError('exited');
      }, 2),
    ).rejects.toThrow('exited');
    expect(calls).toBe(2);
    calls = 0;
    await expect(
      startWithFreshPorts(async () => {
        calls++;
        throw new Error('timed out after 60000 ms');
      }),
    ).rejects.toThrow('timed out');
    expect(calls).toBe(1);
  });
});
