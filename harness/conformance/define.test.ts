import { describe, expect, it } from 'vitest';
import type { RunFacts } from '../facts.ts';
import { defineSuite, deselected, unmetNeeds } from './define.ts';
import { orderFiles } from './sequencer.ts';

const body = () => Promise.resolve();

describe('conformance records', () => {
  it('rejects malformed and duplicate IDs', () => {
    expect(() => defineSuite('x', [{ id: 'X-1', claim: 'c', needs: [], body }])).toThrow(/SUITE-NN/);
    expect(() =>
      defineSuite('x', [
        { id: 'X-01', claim: 'c', needs: [], body },
        { id: 'X-01', claim: 'd', needs: [], body },
      ]),
    ).toThrow(/twice/);
  });

  it('selection by exact ID and SUITE-* prefix', () => {
    expect(deselected('NETPOL-02', { only: [], skip: [] })).toBeUndefined();
    expect(deselected('NETPOL-02', { only: ['NETPOL-*'], skip: [] })).toBeUndefined();
    expect(deselected('INSTALL-01', { only: ['NETPOL-*'], skip: [] })).toBe('not selected (--only NETPOL-*)');
    expect(deselected('NETPOL-02', { only: [], skip: ['NETPOL-02'] })).toBe('skipped by --skip NETPOL-02');
  });

  it('unmet needs give the house-style skip reason', () => {
    const [t] = defineSuite('removal', [
      { id: 'REMOVAL-02', claim: 'c', needs: ['cluster', 'kindNodes'], body },
    ]);
    const facts = {
      features: {
        cluster: { available: true, reason: '' },
        kindNodes: { available: false, reason: 'not a kind cluster of this tool' },
      },
    } as unknown as RunFacts;
    expect(unmetNeeds(t!, facts)).toBe(
      'Skipping REMOVAL-02: this run does not provide kindNodes (not a kind cluster of this tool)',
    );
  });

  it('suite files run install first and removal provably last', () => {
    expect(
      orderFiles([
        '/r/suites/removal/removal.conformance.ts',
        '/r/suites/netpol/netpol.conformance.ts',
        '/r/suites/zzz/new.conformance.ts',
        '/r/suites/install/install.conformance.ts',
        '/r/suites/budget/budget.conformance.ts',
      ]),
    ).toEqual([
      '/r/suites/install/install.conformance.ts',
      '/r/suites/netpol/netpol.conformance.ts',
      '/r/suites/budget/budget.conformance.ts',
      '/r/suites/zzz/new.conformance.ts',
      '/r/suites/removal/removal.conformance.ts',
    ]);
  });
});

describe('the conformance project uses the suite order', () => {
  it('vitest.config.ts installs SuiteOrderSequencer, so removal runs after every other suite', async () => {
    const { default: config } = (await import('../../vitest.config.ts')) as {
      default: { test?: { sequence?: { sequencer?: unknown } } };
    };
    const { default: SuiteOrderSequencer } = await import('./sequencer.ts');
    expect(config.test?.sequence?.sequencer).toBe(SuiteOrderSequencer);
  });
});

describe('test budget', () => {
  it('is four times the larger of podReady and the test’s own timeout', async () => {
    const { DEFAULT_TIMEOUTS } = await import('../timeouts.ts');
    const { testBudget } = await import('./define.ts');
    expect(testBudget({}, DEFAULT_TIMEOUTS)).toBe(4 * DEFAULT_TIMEOUTS.podReady);
    expect(
      testBudget({ timeout: 'helmUninstall' }, { ...DEFAULT_TIMEOUTS, helmUninstall: 10 * 60_000 }),
    ).toBe(40 * 60_000);
  });
});
