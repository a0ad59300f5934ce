import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { InterruptedError } from '../errors.ts';
import { pollUntil } from '../wait.ts';
import { isSkip, runBody, type BodyRun } from './execute.ts';

const ROOT = path.join(import.meta.dirname, '../..');

function harness(over: Partial<BodyRun> & Pick<BodyRun, 'body'>) {
  const events: string[] = [];
  const run: BodyRun = {
    budgetMs: 5_000,
    settleMs: 10_000,
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
  it('a skip inside the body (Vitest’s own skip, in a child Vitest run) is no failure: no diagnostics, cleanup runs, even with --keep-on-failure', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'skip-'));
    const eventsFile = path.join(dir, 'events.json');
    const config = path.join(dir, 'vitest.config.mjs');
    writeFileSync(
      config,
      `export default { test: { root: ${JSON.stringify(ROOT)}, include: ['test/vitest-fixtures/skip-in-body.ts'] } };`,
    );
    const r = await execa(
      process.execPath,
      [
        path.join(ROOT, 'node_modules/vitest/vitest.mjs'),
        'run',
        '--config',
        config,
        '--reporter',
        'json',
        '--outputFile',
        path.join(dir, 'report.json'),
      ],
      { cwd: ROOT, reject: false, timeout: 60_000, env: { SKIP_EVENTS_FILE: eventsFile } },
    );
    const report = JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8')) as {
      testResults: { assertionResults: { status: string }[] }[];
    };
    expect(report.testResults[0]?.assertionResults[0]?.status, r.stderr).toBe('skipped');
    expect(JSON.parse(readFileSync(eventsFile, 'utf8'))).toEqual(['cleanup']);
    expect(isSkip({ code: 'VITEST_PENDING' })).toBe(true);
    expect(isSkip(new Error('boom'))).toBe(false);
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

  it('a body past its budget fails with the budget message; one that ignores its signal is waited for only settleMs', async () => {
    const { run, events } = harness({
      body: () => new Promise<void>(() => undefined),
      budgetMs: 20,
      settleMs: 50,
    });
    await expect(runBody(run)).rejects.toThrow('over budget');
    expect(events).toEqual([
      'warn: the body was still running 50ms after it was stopped',
      'diagnostics',
      'info: diagnostics: 1 file(s)',
      'cleanup',
    ]);
  });

  it('past its budget, the body’s signal is aborted and cleanup starts only after the body stopped', async () => {
    const events: string[] = [];
    const { run } = harness({
      budgetMs: 20,
      body: (signal) =>
        pollUntil({
          what: 'a condition that never holds',
          timeoutMs: 60_000,
          intervalMs: 10_000,
          signal,
          read: () => Promise.resolve(false),
          judge: () => ({ done: false, seen: 'no' }),
        })
          .then(() => undefined)
          .finally(() => events.push('body stopped')),
      cleanup: () => {
        events.push('cleanup');
        return Promise.resolve([]);
      },
    });
    const t0 = Date.now();
    await expect(runBody(run)).rejects.toThrow('over budget');
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(events).toEqual(['body stopped', 'cleanup']);
  });

  it('a cancelled run (Vitest’s test signal) stops the body with an InterruptedError: no diagnostics, cleanup runs', async () => {
    const cancel = new AbortController();
    const { run, events } = harness({
      cancel: cancel.signal,
      body: (signal) =>
        new Promise<void>((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason as Error)),
        ),
    });
    const done = runBody(run);
    cancel.abort();
    await expect(done).rejects.toBeInstanceOf(InterruptedError);
    expect(events).toEqual(['cleanup']);
  });
});
