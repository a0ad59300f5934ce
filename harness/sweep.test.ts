import { describe, expect, it } from 'vitest';
import { isLive, KEPT_ANNOTATION, markerLease, parseMarker, RELEASES_ANNOTATION } from './kube/marker.ts';
import { planSweep, sweepCommands } from './sweep.ts';

const NOW = new Date('2026-11-30T01:00:00Z');
const ago = (s: number) => new Date(NOW.getTime() - s * 1000);
const marker = (runId: string, renewedSecondsAgo: number, kept = false) => {
  const m = parseMarker(
    markerLease(
      runId,
      'ci-runner/4242',
      ago(renewedSecondsAgo),
      [
        { name: 'istio-base', namespace: 'istio-system' },
        { name: 'istiod', namespace: 'istio-system' },
      ],
      kept,
    ),
  );
  if (!m) throw new Error('not a marker');
  return m;
};

describe('run marker (coordination.k8s.io/v1 Lease)', () => {
  it('round-trips: run ID label, holder, renew time, releases in install order, kept', () => {
    const lease = markerLease('20261130-0100-abcd', 'h/1', NOW, [
      { name: 'istiod', namespace: 'istio-system' },
    ]);
    expect(lease.metadata?.name).toBe('ambient-conformance-20261130-0100-abcd');
    expect(lease.metadata?.namespace).toBe('default');
    expect(lease.metadata?.labels).toEqual({
      'ambient-conformance.io/run-id': '20261130-0100-abcd',
      'app.kubernetes.io/managed-by': 'ambient-conformance',
    });
    expect(lease.spec).toMatchObject({ holderIdentity: 'h/1', leaseDurationSeconds: 60 });
    expect(parseMarker(lease)).toMatchObject({
      runId: '20261130-0100-abcd',
      holder: 'h/1',
      releases: [{ name: 'istiod', namespace: 'istio-system' }],
      kept: false,
    });
    expect(parseMarker(markerLease('r', 'h', NOW, [], true))?.kept).toBe(true);
  });

  it('writes MicroTime with exactly six fractional digits, as the API server parses it (RFC3339Micro)', () => {
    const json = JSON.stringify(markerLease('r', 'h', new Date('2026-11-30T01:00:00.259Z'), []));
    expect(json).toContain('"renewTime":"2026-11-30T01:00:00.259000Z"');
    expect(json).toContain('"acquireTime":"2026-11-30T01:00:00.259000Z"');
  });

  it('a Lease without the run-ID label is not a marker; a garbled releases annotation reads as none', () => {
    expect(parseMarker({ metadata: { name: 'x' } })).toBeUndefined();
    const lease = markerLease('r', 'h', NOW, []);
    lease.metadata = {
      ...lease.metadata,
      annotations: { [RELEASES_ANNOTATION]: '{not json', [KEPT_ANNOTATION]: 'no' },
    };
    expect(parseMarker(lease)).toMatchObject({ releases: [], kept: false });
  });

  it('is live for three lease durations (3 min) after its last renewal, to allow for clock skew', () => {
    expect(isLive(marker('r', 0), NOW)).toBe(true);
    expect(isLive(marker('r', 179), NOW)).toBe(true);
    expect(isLive(marker('r', 180), NOW)).toBe(false);
    expect(isLive({ ...marker('r', 0), renewTime: undefined }, NOW)).toBe(false);
  });
});

describe('clean: what may be removed', () => {
  const input = {
    markers: [marker('live', 10), marker('stale', 3600), marker('kept', 7200, true)],
    namespaces: [
      { name: 'netpol-01-abcde', runId: 'live' },
      { name: 'mtls-01-fghij', runId: 'stale' },
      { name: 'authz-01-klmno', runId: 'orphan' },
      { name: 'no-label', runId: undefined },
    ],
    now: NOW,
    includeKept: false,
  };

  it('never a live run; stale and unmarked runs; kept runs only with --include-kept', () => {
    const runs = planSweep(input);
    expect(runs.map((r) => [r.runId, r.state, r.remove])).toEqual([
      ['kept', 'kept', false],
      ['live', 'live', false],
      ['orphan', 'unmarked', true],
      ['stale', 'stale', true],
    ]);
    expect(runs.find((r) => r.runId === 'live')?.why).toMatch(/renewed 10(\.0)?s ago by ci-runner\/4242/);
    expect(runs.find((r) => r.runId === 'stale')?.why).toMatch(/not renewed for 60m00s/);
    expect(planSweep({ ...input, includeKept: true }).find((r) => r.runId === 'kept')?.remove).toBe(true);
  });

  it('only releases recorded on a marker are uninstalled, newest first, then namespaces, then the marker', () => {
    const stale = planSweep(input).find((r) => r.runId === 'stale');
    if (!stale) throw new Error('no stale run');
    expect(sweepCommands(stale, { kubeconfig: '/k/config', context: 'staging' })).toEqual([
      'helm uninstall istiod --namespace istio-system --wait --kubeconfig /k/config --kube-context staging',
      'helm uninstall istio-base --namespace istio-system --wait --kubeconfig /k/config --kube-context staging',
      'kubectl --kubeconfig /k/config --context staging delete namespace -l ambient-conformance.io/run-id=stale',
      'kubectl --kubeconfig /k/config --context staging delete lease -n default ambient-conformance-stale',
    ]);
    const orphan = planSweep(input).find((r) => r.runId === 'orphan');
    if (!orphan) throw new Error('no orphan run');
    expect(sweepCommands(orphan, { kubeconfig: '/k/config' })).toEqual([
      'kubectl --kubeconfig /k/config delete namespace -l ambient-conformance.io/run-id=orphan',
    ]);
  });
});
