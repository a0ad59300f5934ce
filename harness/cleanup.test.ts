import { describe, expect, it } from 'vitest';
import { CleanupStack, installSignalCleanup } from './cleanup.ts';
import { log } from './progress.ts';

log.setSink({ write: () => undefined });

describe('cleanup stack', () => {
  it('runs in reverse order of registration, continues past failures and reports them', async () => {
    const order: string[] = [];
    const stack = new CleanupStack();
    stack.register('delete cluster', () => Promise.resolve(void order.push('cluster')));
    stack.register('uninstall istiod', () => Promise.reject(new Error('release: not found')));
    stack.register('delete namespace t1', () => Promise.resolve(void order.push('namespace')));
    const failures = await stack.runAll();
    expect(order).toEqual(['namespace', 'cluster']);
    expect(failures).toEqual(['uninstall istiod: release: not found']);
    expect(stack.size).toBe(0);
  });

  it('concurrent runAll calls (signal during normal teardown) share one run', async () => {
    let n = 0;
    const stack = new CleanupStack();
    stack.register('x', async () => {
      n++;
      await Promise.resolve();
    });
    await Promise.all([stack.runAll(), stack.runAll()]);
    expect(n).toBe(1);
  });

  it('abandon (--keep) forgets everything', async () => {
    const stack = new CleanupStack();
    let ran = false;
    stack.register('delete cluster', () => Promise.resolve(void (ran = true)));
    expect(stack.abandon().map((e) => e.description)).toEqual(['delete cluster']);
    await stack.runAll();
    expect(ran).toBe(false);
  });
});

describe('signals', () => {
  it('SIGINT runs the hook, then cleanup, then exits 130', async () => {
    const events: string[] = [];
    const stack = new CleanupStack();
    stack.register('delete cluster', () => Promise.resolve(void events.push('cleanup')));
    const exited = new Promise<number>((resolve) => {
      const remove = installSignalCleanup(stack, {
        beforeCleanup: (s) => Promise.resolve(void events.push(`before:${s}`)),
        exit: (code) => {
          remove();
          resolve(code);
        },
      });
    });
    process.emit('SIGINT');
    expect(await exited).toBe(130);
    expect(events).toEqual(['before:SIGINT', 'cleanup']);
  });

  it('SIGTERM exits 143; a second signal exits at once', async () => {
    const stack = new CleanupStack();
    let release!: () => void;
    stack.register('slow delete', () => new Promise<void>((r) => (release = r)));
    const codes: number[] = [];
    const remove = installSignalCleanup(stack, { exit: (c) => codes.push(c) });
    process.emit('SIGTERM');
    await Promise.resolve();
    process.emit('SIGTERM');
    expect(codes).toEqual([143]);
    release();
    await stack.runAll();
    await new Promise<void>((r) => setImmediate(r));
    expect(codes).toEqual([143, 143]);
    remove();
  });
});
