import { describe, expect, it } from 'vitest';
import { isSkip, runBody, type BodyRun } from './execute.ts';

function harness(over: Partial<BodyRun> & Pick<BodyRun, 'body'>) {
  const events: string[] = [];
  const run: BodyRun = {
    budgetMs: 5_000,
    budgetMessage: 'over budget',
    diagnostics: () => {
      events.push('diagnostics');
      return Promise.resolve(['events.txt']);
    },
    cleanup: () => {
      events.push('cleanup');
      return Promise.resolve([]);
    },
    keepOnFailure: false,
    note: (level, m) => events.push(`${level}: ${m}`),
    ...over,
  };
  return { run, events };
}

describe('a conformance test body', () => {
  it('a skip inside the body (Vitest’s real PendingError) is no failure: no diagnostics, cleanup runs, even with --keep-on-failure', async (ctx) => {
    let pending: Error | undefined;
    try {
      ctx.skip('probe');
    } catch (e) {
      pending = e as Error; // Vitest's own skip error, caught before it ends this test
    }
    // ctx.skip also marked this test pending (@vitest/runner context.skip); it goes on, so unmark
    // it, or Vitest would report this test as skipped whatever its assertions say.
    if (ctx.task.result) (ctx.task.result as { pending?: boolean }).pending = false;
    expect(isSkip(pending)).toBe(true);
    const { run, events } = harness({
      body: () => Promise.reject(pending ?? new Error('ctx.skip did not throw')),
      keepOnFailure: true,
    });
    await expect(runBody(run)).rejects.toBe(pending);
    expect(events).toEqual(['cleanup']);
  });

  it('a failure collects diagnostics before cleanup', async () => {
    const { run, events } = harness({
      body: () => Promise.reject(new Error('boom')),
    });
    await expect(runBody(run)).rejects.toThrow('boom');
    expect(events).toEqual(['diagnostics', 'info: diagnostics: 1 file(s)', 'cleanup']);
  });

  it('a failure under --keep-on-failure keeps the resources', async () => {
    const { run, events } = harness({
      body: () => Promise.reject(new Error('boom')),
      keepOnFailure: true,
    });
    await expect(runBody(run)).rejects.toThrow('boom');
    expect(events).toEqual([
      'diagnostics',
      'info: diagnostics: 1 file(s)',
      'warn: failed: keeping its resources (--keep-on-failure)',
    ]);
  });

  it('a body past its budget fails with the budget message', async () => {
    const { run, events } = harness({
      body: () => new Promise<void>(() => undefined),
      budgetMs: 20,
    });
    await expect(runBody(run)).rejects.toThrow('over budget');
    expect(events).toContain('cleanup');
  });
});
