import { describe, expect, it } from 'vitest';
import {
  BEHAVIOUR_CHANGES,
  changesCrossing,
  changesLost,
  describeSince,
  expectationsFor,
  firstPatchWith,
  hasChange,
} from './behaviour.ts';
import { minorIndex, minorKey, parseVersion } from './version.ts';

const change = (id: string) => {
  const c = BEHAVIOUR_CHANGES.find((x) => x.id === id);
  if (!c) throw new Error(`no behaviour change ${id}`);
  return c;
};
const ids = (list: { id: string }[]) => list.map((c) => c.id);

describe('the behaviour table', () => {
  it('gives each change its first patch per minor, keys consecutive, each patch in its own minor', () => {
    for (const c of BEHAVIOUR_CHANGES) {
      const minors = Object.keys(c.since);
      expect(minors.length, c.id).toBeGreaterThan(0);
      const idx = minors.map((m) => minorIndex(parseVersion(`${m}.0`)));
      idx.forEach((x, i) => {
        if (i > 0) expect(x, `${c.id}: minors in order, no gap`).toBe((idx[i - 1] ?? 0) + 1);
      });
      for (const [m, first] of Object.entries(c.since))
        if (first !== null) expect(minorKey(first), `${c.id} ${m}`).toBe(m);
      expect(c.source.length, c.id).toBeGreaterThan(0);
    }
  });

  it('the XDS debug authentication is in 1.28.5 and 1.29.1, not in 1.29.0 (backport after 1.29.0)', () => {
    const c = change('xds-debug-auth');
    expect(c.since).toEqual({ '1.27': '1.27.8', '1.28': '1.28.5', '1.29': '1.29.1', '1.30': '1.30.0' });
    const has = (v: string) => hasChange(v, c);
    expect([
      has('1.28.4'),
      has('1.28.5'),
      has('1.29.0'),
      has('1.29.1'),
      has('1.30.0'),
      has('1.31.1'),
    ]).toEqual([false, true, false, true, true, true]);
    expect(has('1.30.0-rc.0')).toBe(false);
    // Crossed when A lacks it and B has it; lost when A has it and B lacks it.
    expect(ids(changesCrossing('1.28.3', '1.29.0'))).not.toContain('xds-debug-auth');
    expect(ids(changesCrossing('1.28.3', '1.29.1'))).toContain('xds-debug-auth');
    expect(ids(changesCrossing('1.28.5', '1.29.1'))).not.toContain('xds-debug-auth');
    expect(ids(changesLost('1.28.5', '1.29.0'))).toEqual(['xds-debug-auth']);
    expect(firstPatchWith(c, '1.29.0')).toBe('1.29.1');
    expect(firstPatchWith(c, '1.31.1')).toBe('1.31.0');
    expect(describeSince(c, '1.28.3')).toBe('1.28.5, 1.29.1, 1.30.0');
  });

  it('says, as statusgen-xds-auth.yaml does, that plaintext :15010 debug needs authentication at all', () => {
    const c = change('xds-debug-auth');
    expect(c.summary).toContain('require authentication (before, none)');
    expect(c.effect).toContain('from any namespace');
    expect(c.effect).toContain('ENABLE_DEBUG_ENDPOINT_AUTH=false');
    expect(c.source).toContain('statusgen-xds-auth.yaml');
  });

  it('the webhook failurePolicy backport: 1.28.6 and 1.29.2, not 1.29.0 or 1.29.1', () => {
    const c = change('webhook-failure-policy-upgrade');
    expect([
      hasChange('1.28.6', c),
      hasChange('1.29.0', c),
      hasChange('1.29.1', c),
      hasChange('1.29.2', c),
    ]).toEqual([true, false, false, true]);
    expect(ids(changesLost('1.28.6', '1.29.1'))).toContain('webhook-failure-policy-upgrade');
  });

  it('Gateway API 1.5: only TLSRoute is read at v1; ReferenceGrant stays v1beta1 (pkg/config/schema/gvr)', () => {
    const c = change('gateway-api-1.5');
    expect(c.summary).toContain('TLSRoute at gateway.networking.k8s.io/v1');
    expect(c.summary).toContain('ReferenceGrant is still read at v1beta1');
    expect(c.summary).not.toMatch(/TLSRoute and ReferenceGrant/);
    expect(c.source).toContain('istio/istio@1.30.3 pkg/config/schema/gvr/resources.gen.go');
    expect(c.source).not.toContain('upgrade-notes ("Gateway API CRDs must be upgraded');
  });

  it('a minor without the change (null) and the minors after it: the 1.30 default hub is not in 1.31', () => {
    const c = change('default-hub-1.30');
    expect([hasChange('1.29.8', c), hasChange('1.30.5', c), hasChange('1.31.1', c)]).toEqual([
      false,
      true,
      false,
    ]);
    expect(describeSince(c)).toBe('1.30.0, none in 1.31');
  });

  it('the matrix expectations follow the per-minor table', () => {
    const value = (v: string, id: string) => expectationsFor(v).find((e) => e.id === id)?.value;
    expect(value('1.28.10', 'cni-grace-period')).toBe('5');
    expect(value('1.29.0', 'cni-grace-period')).toBe('30');
    expect(value('1.31.1', 'cni-conf-mode-0600')).toBe('0600');
  });
});
