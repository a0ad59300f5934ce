import { describe, expect, it } from 'vitest';
import { converge, type BatchRunner, type PlannedProbe } from './engine.ts';
import type { ObservedClass, ProbeResult } from './outcome.ts';

const client = { namespace: 'x', pod: 'client', container: 'client' };
const probe = (id: string, expected: ObservedClass, c = client): PlannedProbe => ({
  id,
  client: c,
  to: `y/${id}`,
  ip: '10.0.0.1',
  port: 80,
  expected,
});

/** A runner that answers each probe from a script of classes, round by round. */
function scripted(script: Record<string, ObservedClass[]>): { runner: BatchRunner; calls: string[][] } {
  const calls: string[][] = [];
  const round = new Map<string, number>();
  const runner: BatchRunner = (_c, specs) => {
    calls.push(specs.map((s) => s.id));
    return Promise.resolve(
      specs.map((s): ProbeResult => {
        const i = round.get(s.id) ?? 0;
        round.set(s.id, i + 1);
        const seq = script[s.id] ?? [];
        const cls = seq[Math.min(i, seq.length - 1)] ?? 'other';
        return {
          id: s.id,
          class: cls,
          exitCode: cls === 'connected' ? 0 : 56,
          httpCode: cls === 'connected' ? 200 : 0,
          elapsedMs: 5,
          detail: cls,
        };
      }),
    );
  };
  return { runner, calls };
}

describe('converge', () => {
  it('an allow needs consecutive successes; a deny needs repeated failures; one exec per client per round', async () => {
    const { runner, calls } = scripted({ a: ['connected'], b: ['reset'] });
    const obs = await converge([probe('a', 'connected'), probe('b', 'reset')], runner, { timeoutMs: 10_000 });
    expect(obs.map((o) => [o.probe.id, o.observed, o.settled, o.history])).toEqual([
      ['a', 'connected', true, ['connected', 'connected']],
      ['b', 'reset', true, ['reset', 'reset']],
    ]);
    expect(calls).toEqual([
      ['a', 'b'],
      ['a', 'b'],
    ]);
  });

  it('keeps probing a cell until the policy takes effect (convergence)', async () => {
    const { runner } = scripted({ a: ['connected', 'connected', 'reset'], ok: ['connected'] });
    const obs = await converge([probe('a', 'reset'), probe('ok', 'connected')], runner, {
      timeoutMs: 10_000,
    });
    expect(obs[0]).toMatchObject({
      observed: 'reset',
      settled: true,
      history: ['connected', 'connected', 'reset', 'reset'],
    });
  });

  it('a flapping allow is a mismatch when the deadline passes, with the last observation', async () => {
    let t = 0;
    const { runner } = scripted({
      a: ['connected', 'timeout', 'connected', 'timeout', 'connected', 'timeout'],
    });
    const obs = await converge(
      [probe('a', 'connected')],
      async (c, s) => {
        t += 1000;
        return runner(c, s);
      },
      { timeoutMs: 3000, now: () => t },
    );
    // three rounds fit in the deadline: connected, timeout, connected; never twice in a row
    expect(obs[0]).toMatchObject({
      settled: false,
      observed: 'connected',
      history: ['connected', 'timeout', 'connected'],
    });
    expect(obs[0]?.repro).toContain('kubectl exec -n x client -c client -- curl');
  });

  it('denials of a client that never connected anywhere are inconclusive (no positive control)', async () => {
    const lonely = { namespace: 'z', pod: 'lonely', container: 'client' };
    const { runner } = scripted({ d1: ['timeout'], d2: ['timeout'], ok: ['connected'] });
    const obs = await converge(
      [probe('d1', 'timeout', lonely), probe('d2', 'timeout'), probe('ok', 'connected')],
      runner,
      { timeoutMs: 10_000 },
    );
    expect(obs.map((o) => [o.probe.id, o.inconclusive])).toEqual([
      ['d1', true],
      ['d2', false],
      ['ok', false],
    ]);
  });

  it('bounds how many clients are probed at once', async () => {
    let inFlight = 0;
    let peak = 0;
    const clients = Array.from({ length: 8 }, (_, i) => ({
      namespace: 'x',
      pod: `c${i}`,
      container: 'client',
    }));
    await converge(
      clients.map((c, i) => probe(`p${i}`, 'connected', c)),
      async (_c, specs) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise<void>((r) => setImmediate(r));
        inFlight--;
        return specs.map((s) => ({
          id: s.id,
          class: 'connected' as const,
          exitCode: 0,
          httpCode: 200,
          elapsedMs: 1,
          detail: '',
        }));
      },
      { timeoutMs: 10_000, concurrency: 3 },
    );
    expect(peak).toBe(3);
  });
});
