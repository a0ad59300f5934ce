import { describe, expect, it } from 'vitest';
import { WaitError } from './errors.ts';
import { pollUntil, settleWithin } from './wait.ts';

describe('pollUntil', () => {
  it('returns the value once the condition holds', async () => {
    let n = 0;
    const v = await pollUntil({
      what: 'n to reach 3',
      timeoutMs: 2000,
      intervalMs: 5,
      read: () => Promise.resolve(++n),
      judge: (x) => ({ done: x >= 3, seen: `n=${x}` }),
    });
    expect(v).toBe(3);
  });

  it('times out saying what it awaited and what it last saw', async () => {
    const e = await pollUntil({
      what: 'pod x/a to be Ready',
      timeoutMs: 60,
      intervalMs: 10,
      read: () => Promise.resolve('Pending'),
      judge: (p) => ({ done: false, seen: `phase=${p}, reason=ContainerCreating` }),
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(WaitError);
    expect((e as WaitError).message).toBe('timed out after 60ms waiting for pod x/a to be Ready');
    expect((e as WaitError).details.seen).toBe('last seen: phase=Pending, reason=ContainerCreating');
  });

  it('stops at once when success has become impossible, with evidence', async () => {
    const t0 = performance.now();
    const e = await pollUntil({
      what: 'istiod Ready',
      timeoutMs: 60_000,
      intervalMs: 10,
      read: () => Promise.resolve('crash'),
      judge: () => ({ done: false, impossible: 'istiod is in CrashLoopBackOff', seen: 'restarts=4' }),
      evidence: () => Promise.resolve('last log: panic: bad config'),
    }).catch((x: unknown) => x);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect((e as WaitError).message).toBe('gave up waiting for istiod Ready: istiod is in CrashLoopBackOff');
    expect((e as WaitError).details.seen).toContain('panic: bad config');
  });

  it('remembers read errors as the last thing seen', async () => {
    const e = await pollUntil({
      what: 'x',
      timeoutMs: 40,
      intervalMs: 10,
      read: () => Promise.reject(new Error('HTTP 503')),
      judge: () => ({ done: true, seen: '' }),
    }).catch((x: unknown) => x);
    expect((e as WaitError).details.seen).toBe('last seen: error: HTTP 503');
  });
});

describe('settleWithin', () => {
  it('is true as soon as the promise settles (resolved or rejected), false at the deadline', async () => {
    expect(await settleWithin(Promise.resolve(1), 1000)).toBe(true);
    expect(await settleWithin(Promise.reject(new Error('x')), 1000)).toBe(true);
    expect(await settleWithin(undefined, 1000)).toBe(true);
    const t0 = Date.now();
    expect(await settleWithin(new Promise(() => undefined), 50)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});

describe('the poll interval', () => {
  it('must be a positive number (from the timeout table): a missing one fails at once instead of spinning', async () => {
    const o = {
      what: 'x',
      timeoutMs: 1000,
      read: () => Promise.resolve(1),
      judge: () => ({ done: false, seen: '1' }),
    };
    await expect(pollUntil({ ...o, intervalMs: undefined as unknown as number })).rejects.toThrow(
      'waiting for x: intervalMs must be a positive number of ms from the timeout table, got undefined',
    );
    await expect(pollUntil({ ...o, intervalMs: 0 })).rejects.toThrow('got 0');
  });
});
