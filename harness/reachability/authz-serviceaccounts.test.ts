import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { readManifests } from './manifests.ts';
import { ReachabilityModel } from './model.ts';

/**
 * Issue 11's first failing input: AuthorizationPolicy `serviceAccounts` is an L4 field in 1.28.
 * istiod turns each entry into a ztunnel ServiceAccountMatch, a bare name meaning the policy's
 * namespace (istio/istio 1.28.3 pilot/pkg/serviceregistry/kube/controller/ambient/
 * authorization.go stringToServiceAccountMatch), and ztunnel matches it on the source identity's
 * namespace and service account (istio/ztunnel 1.28.3 src/rbac.rs ServiceAccountMatch).
 */
const ns = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels: { 'istio.io/dataplane-mode': 'ambient' } },
});
const pod = (namespace: string, name: string, sa: string, ip: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace },
  spec: { serviceAccountName: sa, containers: [{ name: 'c', ports: [{ containerPort: 8080 }] }] },
  status: { podIP: ip },
});
const allow = (source: Record<string, string[]>) => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'app-1-by-sa', namespace: 'ns-a' },
  spec: { action: 'ALLOW', rules: [{ from: [{ source }] }] },
});

function outcomes(policy: object): Record<string, string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sa-'));
  const file = path.join(dir, 'm.yaml');
  const objects = [
    ns('ns-a'),
    ns('ns-b'),
    pod('ns-a', 'app-1', 'server', '10.244.1.10'),
    pod('ns-a', 'app-2', 'reporter', '10.244.1.11'),
    pod('ns-b', 'app-3', 'collector', '10.244.2.12'),
    pod('ns-b', 'app-4', 'stranger', '10.244.2.13'),
    policy,
  ];
  writeFileSync(file, objects.map((o) => stringify(o)).join('---\n'));
  const model = new ReachabilityModel(readManifests([file]).state);
  const to = model.podIndex('ns-a/app-1') ?? -1;
  return Object.fromEntries(
    ['ns-a/app-2', 'ns-b/app-3', 'ns-b/app-4'].map((from) => {
      const c = model.cell(model.podIndex(from) ?? -1, to, 8080);
      return [from, `${c.outcome}: ${c.reason}`];
    }),
  );
}

describe('AuthorizationPolicy serviceAccounts (L4 in ztunnel 1.28)', () => {
  it('ALLOW serviceAccounts [reporter, ns-b/collector]: app-2 (reporter, same namespace) and app-3 (ns-b/collector) connect, app-4 is reset', () => {
    const o = outcomes(allow({ serviceAccounts: ['reporter', 'ns-b/collector'] }));
    expect(o['ns-a/app-2']).toMatch(/^allow: /);
    expect(o['ns-a/app-2']).toContain('allowed by AuthorizationPolicy ns-a/app-1-by-sa (rule 0)');
    expect(o['ns-b/app-3']).toMatch(/^allow: /);
    expect(o['ns-b/app-3']).toContain('allowed by AuthorizationPolicy ns-a/app-1-by-sa (rule 0)');
    expect(o['ns-b/app-4']).toMatch(/^deny: /);
    expect(o['ns-b/app-4']).toContain('mesh deny: ALLOW policies exist');
    expect(o['ns-b/app-4']).not.toContain('L7');
  });

  it('a bare name means the policy’s namespace: reporter does not match ns-b’s pods', () => {
    const o = outcomes(allow({ serviceAccounts: ['collector'] }));
    expect(o['ns-b/app-3']).toMatch(/^deny:/);
    expect(o['ns-a/app-2']).toMatch(/^deny:/);
  });

  it('notServiceAccounts excludes exactly that identity', () => {
    const o = outcomes(allow({ notServiceAccounts: ['ns-b/stranger'] }));
    expect(o['ns-b/app-4']).toMatch(/^deny:/);
    expect(o['ns-a/app-2']).toMatch(/^allow:/);
    expect(o['ns-b/app-3']).toMatch(/^allow:/);
  });
});

describe('AuthorizationPolicy rules as istiod 1.28.3 converts them for ztunnel', () => {
  const policy = (action: string, rules: unknown[]) => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'p', namespace: 'ns-a' },
    spec: { action, rules },
  });
  it('ALLOW: a rule with any L7 attribute is omitted, even when another from entry is pure L4', () => {
    const o = outcomes(
      policy('ALLOW', [
        { from: [{ source: { namespaces: ['ns-b'] } }, { source: { requestPrincipals: ['*'] } }] },
      ]),
    );
    expect(o['ns-b/app-3']).toMatch(/^deny:/);
    expect(o['ns-b/app-3']).toContain('need L7 attributes');
  });
  it('DENY: an entry with only L7 fields becomes an empty match, which never matches', () => {
    const o = outcomes(policy('DENY', [{ to: [{ operation: { methods: ['GET'] } }] }]));
    expect(o['ns-b/app-4']).toMatch(/^allow:/);
  });
  it('DENY: L7 fields beside L4 ones are dropped and the L4 part is enforced (more restrictive)', () => {
    const o = outcomes(
      policy('DENY', [{ from: [{ source: { namespaces: ['ns-b'], requestPrincipals: ['*'] } }] }]),
    );
    expect(o['ns-b/app-4']).toMatch(/^deny:/);
    expect(o['ns-a/app-2']).toMatch(/^allow:/);
  });
  it('DENY: a when on an L7 key never matches', () => {
    const o = outcomes(policy('DENY', [{ when: [{ key: 'request.headers[x-user]', values: ['a'] }] }]));
    expect(o['ns-b/app-4']).toMatch(/^allow:/);
  });
  it('AUDIT and CUSTOM have no L4 effect, and the reason says so', () => {
    for (const action of ['AUDIT', 'CUSTOM']) {
      const spec = action === 'CUSTOM' ? { provider: { name: 'ext' } } : {};
      const p = policy(action, [{ from: [{ source: { ipBlocks: ['10.244.0.0/16'] } }] }]);
      const o = outcomes({ ...p, spec: { ...p.spec, ...spec } });
      expect(o['ns-b/app-4']).toMatch(/^allow:/);
      expect(o['ns-b/app-4']).toContain(`ztunnel does not support the ${action} action`);
    }
  });
});

describe('empty lists and port strings, as istiod reads them', () => {
  const policy = (action: string, rules: unknown[]) => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'p', namespace: 'ns-a' },
    spec: { action, rules },
  });
  it('an empty list is absent (istiod uses a field only when it has entries): no false L7 and no empty positive list', () => {
    expect(
      outcomes(policy('ALLOW', [{ to: [{ operation: { ports: ['8080'], methods: [] } }] }]))['ns-b/app-4'],
    ).toMatch(/^allow:/);
    expect(
      outcomes(policy('ALLOW', [{ from: [{ source: { namespaces: ['ns-b'], requestPrincipals: [] } }] }]))[
        'ns-b/app-4'
      ],
    ).toMatch(/^allow:/);
    expect(
      outcomes(
        policy('ALLOW', [{ from: [{ source: { serviceAccounts: [], ipBlocks: ['10.244.2.0/24'] } }] }]),
      )['ns-b/app-4'],
    ).toMatch(/^allow:/);
  });
  it('ports are numbers: "08080" is 8080, in ports and in a destination.port condition', () => {
    expect(outcomes(policy('ALLOW', [{ to: [{ operation: { ports: ['08080'] } }] }]))['ns-b/app-4']).toMatch(
      /^allow:/,
    );
    expect(
      outcomes(policy('ALLOW', [{ when: [{ key: 'destination.port', values: ['08080'] }] }]))['ns-b/app-4'],
    ).toMatch(/^allow:/);
  });
});
