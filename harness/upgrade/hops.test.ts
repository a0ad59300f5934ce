import { describe, expect, it } from 'vitest';
import { checkHops } from './plan.ts';
import { choosePath, hopsOf, legalPath } from './hops.ts';
import { parseVersion } from './version.ts';

describe('upgrade hops (one minor at a time, base → istiod → cni → ztunnel)', () => {
  it('plans 1.28.3 → 1.31.1 through the newest known patch of each minor', () => {
    expect(legalPath(parseVersion('1.28.3'), parseVersion('1.31.1'))).toEqual([
      '1.28.3',
      '1.29.8',
      '1.30.5',
      '1.31.1',
    ]);
  });

  it('a patch upgrade and a one-minor upgrade are one hop', () => {
    expect(choosePath('1.28.3', '1.28.10').path).toEqual(['1.28.3', '1.28.10']);
    expect(choosePath('1.29.6', '1.30.5').path).toEqual(['1.29.6', '1.30.5']);
  });

  it('orders each hop base → istiod → cni → ztunnel, and every state keeps the skew rule', () => {
    const [hop] = hopsOf(['1.28.3', '1.29.8']);
    expect(hop?.steps.map((s) => s.chart)).toEqual(['base', 'istiod', 'cni', 'ztunnel']);
    expect(hop?.skew).toEqual([]);
  });

  it('refuses 1.28.3 → 1.30.5 in one step, naming the states that break the rule and the legal path', () => {
    const choice = choosePath('1.28.3', '1.30.5', { direct: true });
    const hop = choice.hops[0];
    expect(hop?.skew.map((s) => `${s.after.chart}: ${s.problem}`)).toEqual([
      'istiod: cni 1.28.3 is 2 minors behind istiod 1.30.5 (at most one is supported)',
      'cni: ztunnel 1.28.3 is 2 minors behind istiod 1.30.5 (at most one is supported)',
    ]);
    const r = checkHops(choice);
    expect(r.status).toBe('fail');
    expect(r.summary).toBe(
      '1.28.3 → 1.30.5 skips a minor: the data plane would be more than one minor behind istiod; take 1.28.3 → 1.29.8 → 1.30.5',
    );
  });

  it('--via picks the stops (e.g. patches the mirror has); a via path that skips a minor fails too', () => {
    expect(choosePath('1.28.3', '1.30.3', { via: ['1.29.6'] }).path).toEqual(['1.28.3', '1.29.6', '1.30.3']);
    expect(checkHops(choosePath('1.28.3', '1.31.1', { via: ['1.29.8'] })).status).toBe('fail');
    expect(checkHops(choosePath('1.28.3', '1.30.3', { via: ['1.29.6'] })).status).toBe('pass');
  });
});
