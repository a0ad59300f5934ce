import { describe, expect, it } from 'vitest';
import { AUTHZ_CASES, peerAuthentication } from './istio-policies.ts';
import { layoutModel } from './layout.ts';
import type { IstioObject } from './matrix-case.ts';

/**
 * MTLS-04 and AUTHZ-01..05 offline: the suite's Istio objects (the same builders) through the
 * manifest reader into the model, laid out as the suites lay them out.
 */
const ns = { x: 'x', w: 'w', y: 'y', z: 'z' };
function model(objects: IstioObject[]) {
  return layoutModel(
    [
      { name: 'x', meshed: true },
      { name: 'w', meshed: true },
      { name: 'y', meshed: true },
      { name: 'z', meshed: false },
    ],
    [
      { ns: 'y', name: 'a' },
      { ns: 'y', name: 'b' },
      { ns: 'x', name: 'a', client: true },
      { ns: 'w', name: 'a', client: true },
      { ns: 'z', name: 'a', client: true },
    ],
    objects,
  );
}
function outcomes(objects: IstioObject[], to: string): string[] {
  const m = model(objects);
  return ['x', 'w', 'z'].map(
    (from) => m.cell(m.podIndex(`${from}/client-a`) ?? -1, m.podIndex(`y/${to}`) ?? -1, 80).outcome,
  );
}

describe('MTLS and AUTHZ cases in the model', () => {
  it('MTLS-04: STRICT resets plaintext only; PERMISSIVE accepts both', () => {
    expect(outcomes([peerAuthentication('y', 'STRICT')], 'a')).toEqual(['allow', 'allow', 'deny']);
    expect(outcomes([peerAuthentication('y', 'PERMISSIVE')], 'a')).toEqual(['allow', 'allow', 'allow']);
  });
  it('AUTHZ-01: ALLOW by principal admits probe-x only; the untargeted server is open', () => {
    expect(outcomes(AUTHZ_CASES.allowPrincipalX(ns), 'a')).toEqual(['allow', 'deny', 'deny']);
    expect(outcomes(AUTHZ_CASES.allowPrincipalX(ns), 'b')).toEqual(['allow', 'allow', 'allow']);
  });
  it('AUTHZ-02: ALLOW by source namespace', () => {
    expect(outcomes(AUTHZ_CASES.allowNamespaceW(ns), 'a')).toEqual(['deny', 'allow', 'deny']);
  });
  it('AUTHZ-03: DENY wins over ALLOW', () => {
    expect(outcomes(AUTHZ_CASES.denyWinsOverAllow(ns), 'a')).toEqual(['deny', 'allow', 'allow']);
  });
  it('AUTHZ-04: an L7 rule without a waypoint denies everything to the workload', () => {
    expect(outcomes(AUTHZ_CASES.l7WithoutWaypoint(ns), 'a')).toEqual(['deny', 'deny', 'deny']);
    expect(outcomes(AUTHZ_CASES.l7WithoutWaypoint(ns), 'b')).toEqual(['allow', 'allow', 'allow']);
  });
  it('AUTHZ-05: an ALLOW with no rules denies all; without it everything connects again', () => {
    expect(outcomes(AUTHZ_CASES.allowNothing(ns), 'a')).toEqual(['deny', 'deny', 'deny']);
    expect(outcomes([], 'a')).toEqual(['allow', 'allow', 'allow']);
  });
});
