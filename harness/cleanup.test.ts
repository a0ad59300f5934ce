import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CleanupStack,
  installSignalCleanup,
  renderLeftovers,
  writeLeftoversRecord,
  type LeftoversRecord,
} from './cleanup.ts';
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

describe('what is left', () => {
  it('pending lists the entry in flight, those not run yet (newest first) and failed ones, with their commands', async () => {
    const stack = new CleanupStack();
    let release!: () => void;
    stack.register('delete kind cluster c', () => Promise.resolve(), 'kind delete cluster --name c');
    stack.register('helm uninstall istiod', () => Promise.reject(new Error('boom')), 'helm uninstall istiod');
    stack.register(
      'helm uninstall ztunnel',
      () => new Promise<void>((r) => (release = r)),
      'helm uninstall ztunnel',
    );
    expect(stack.pending().map((l) => l.what)).toEqual([
      'helm uninstall ztunnel',
      'helm uninstall istiod',
      'delete kind cluster c',
    ]);
    const done = stack.runAll();
    await Promise.resolve();
    expect(stack.pending()[0]).toEqual({ what: 'helm uninstall ztunnel', command: 'helm uninstall ztunnel' });
    release();
    await done;
    expect(stack.pending()).toEqual([{ what: 'helm uninstall istiod', command: 'helm uninstall istiod' }]);
    expect(renderLeftovers(stack.pending())).toContain('remove it: helm uninstall istiod');
    expect(renderLeftovers([])).toBe('nothing is left behind');
  });

  it('the leftovers record is JSON, 0600, with secrets masked', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'left-'));
    const file = path.join(dir, 'run', 'leftovers.json');
    writeLeftoversRecord(file, 'r1', 'interrupted by SIGINT during istio', [
      { what: 'helm uninstall x', command: 'helm uninstall x --set token=abc' },
    ]);
    const rec = JSON.parse(readFileSync(file, 'utf8')) as LeftoversRecord;
    expect(rec).toMatchObject({ runId: 'r1', state: 'interrupted by SIGINT during istio' });
    expect(rec.left[0]?.what).toBe('helm uninstall x');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});

describe('signals', () => {
  it('SIGINT runs the first handler, then exits 130', async () => {
    const events: string[] = [];
    const exited = new Promise<number>((resolve) => {
      const remove = installSignalCleanup({
        first: (s) => Promise.resolve(void events.push(`first:${s}`)),
        second: (s) => void events.push(`second:${s}`),
        exit: (code) => {
          remove();
          resolve(code);
        },
      });
    });
    process.emit('SIGINT');
    expect(await exited).toBe(130);
    expect(events).toEqual(['first:SIGINT']);
  });

  it('SIGTERM exits 143 when the first handler ends; a second signal runs the second handler and exits at once', async () => {
    let release!: () => void;
    const events: string[] = [];
    const codes: number[] = [];
    const remove = installSignalCleanup({
      first: () => new Promise<void>((r) => (release = r)),
      second: (s) => void events.push(`second:${s}`),
      exit: (c) => codes.push(c),
    });
    process.emit('SIGTERM');
    await Promise.resolve();
    process.emit('SIGINT');
    expect(events).toEqual(['second:SIGINT']);
    expect(codes).toEqual([130]);
    release();
    await new Promise<void>((r) => setImmediate(r));
    expect(codes).toEqual([130, 143]);
    remove();
  });

  it('a first handler that throws still exits', async () => {
    const codes: number[] = [];
    const remove = installSignalCleanup({
      first: () => Promise.reject(new Error('boom')),
      second: () => undefined,
      exit: (c) => codes.push(c),
    });
    process.emit('SIGTERM');
    await new Promise<void>((r) => setImmediate(r));
    expect(codes).toEqual([143]);
    remove();
  });
});
