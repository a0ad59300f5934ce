import { describe, expect, it } from 'vitest';
import type { Observation } from '../probe/engine.ts';
import { mismatches, renderMismatches } from './render.ts';

const probe = {
  id: 'p0',
  client: { namespace: 'x', pod: 'client', container: 'client' },
  to: 'y/server',
  ip: '10.244.1.5',
  port: 80,
  expected: 'connected' as const,
};
const last = {
  id: 'p0',
  class: 'connected' as const,
  exitCode: 0,
  httpCode: 200,
  elapsedMs: 3,
  detail: 'HTTP 200',
};

describe('mismatch messages', () => {
  it('a cell seen as expected, but not often enough in a row before the deadline, says so instead of "expected connected, observed connected"', () => {
    const o: Observation = {
      probe,
      observed: 'connected',
      settled: false,
      inconclusive: false,
      history: ['timeout', 'connected'],
      last,
      repro: 'kubectl exec …',
    };
    const [m] = mismatches([o]);
    expect(m?.unsettledRun).toBe(1);
    expect(renderMismatches(mismatches([o]))).toContain(
      'x/client -> y/server:80: expected connected, seen 1 time(s) in a row but not as often as required before the convergence deadline',
    );
  });

  it('a cell that showed another class keeps "observed"', () => {
    const o: Observation = {
      probe,
      observed: 'timeout',
      settled: false,
      inconclusive: false,
      history: ['timeout', 'timeout'],
      last: { ...last, class: 'timeout', exitCode: 28, httpCode: 0, elapsedMs: 5000, detail: 'curl 28' },
      repro: 'kubectl exec …',
    };
    expect(mismatches([o])[0]?.unsettledRun).toBeUndefined();
    expect(renderMismatches(mismatches([o]))).toContain('expected connected, observed timeout');
  });
});
