import { describe, expect, it } from 'vitest';
import { collectList, newRunId, resolveSettings } from './settings.ts';
import { UserInputError } from './errors.ts';
import { defineSuite } from './conformance/define.ts';

const catalog = defineSuite('removal', [
  { id: 'REMOVAL-01', claim: 'c', needs: ['cluster'], body: () => Promise.resolve() },
  { id: 'REMOVAL-04', claim: 'c', needs: ['cluster', 'destructive'], body: () => Promise.resolve() },
]);

describe('run settings', () => {
  it('a fresh kind run: its own cluster name, kubeconfig in the run folder, the kind context', () => {
    const s = resolveSettings({}, catalog, { runId: '20261128-101500-ab12', cwd: '/w', env: {} });
    expect(s).toMatchObject({
      mode: 'kind',
      clusterName: 'ambient-conformance-ab12',
      runDir: '/w/reports/20261128-101500-ab12',
      kubeconfig: '/w/reports/20261128-101500-ab12/kubeconfig',
      context: 'kind-ambient-conformance-ab12',
      keep: false,
      destructive: false,
    });
  });
  it('--reuse keeps the cluster; --destructive is carried', () => {
    expect(
      resolveSettings({ reuse: true, clusterName: 'ambient-conformance-k1', destructive: true }, catalog, {
        env: {},
      }),
    ).toMatchObject({ mode: 'kind-reuse', keep: true, destructive: true });
  });
  it('bad combinations are the user’s input: exit 2', () => {
    expect(() => resolveSettings({ reuse: true }, catalog, { env: {} })).toThrow(UserInputError);
    expect(() => resolveSettings({ useExistingIstio: true }, catalog, { env: {} })).toThrow(
      /needs --kubeconfig or --context/,
    );
    expect(() => resolveSettings({ clusterName: 'Bad_Name' }, catalog, { env: {} })).toThrow(
      /not a valid kind cluster name/,
    );
    expect(() => resolveSettings({ only: ['NETPOL-*'] }, catalog, { env: {} })).toThrow(
      /no such conformance test/,
    );
  });
  it('parses lists and run IDs', () => {
    expect(collectList('A-01, B-*', ['X-02'])).toEqual(['X-02', 'A-01', 'B-*']);
    expect(newRunId(new Date(Date.UTC(2026, 10, 28, 10, 15, 0)), 'ab12')).toBe('20261128-101500-ab12');
  });
});
