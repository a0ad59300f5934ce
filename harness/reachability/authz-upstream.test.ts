import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { readManifests } from './manifests.ts';
import { ReachabilityModel } from './model.ts';

/**
 * Upstream's own unit tests of ambient L4 authorization, restated as cells of this model (the facts
 * they establish, in this project's words; no upstream code or text is copied). Every case names the
 * upstream test, and the field, it restates.
 *
 * - istio/istio 1.28.3 pilot/pkg/serviceregistry/kube/controller/ambient/authorization_test.go
 *   TestConvertAuthorizationPolicyStatus: what istiod reports while converting an AuthorizationPolicy
 *   for ztunnel. Its HTTP-attribute case is extended to every field the conversion treats as HTTP
 *   (authorization.go httpSources, httpOperations, and the `when` keys outside l4WhenAttributes),
 *   and its "policy is fine" case to what stringToPort does with a port name.
 * - istio/istio 1.28.3 …/ambient/ambientindex_test.go TestAmbientIndex_Policy: which workloads an
 *   AuthorizationPolicy reaches (selector, namespace, root namespace, gateway targetRef).
 * - istio/ztunnel 1.28.3 src/rbac.rs tests (rbac_empty_policy, rbac_nesting, rbac_multi_rule, the
 *   rbac_test! cases, string_match) and src/state.rs assert_rbac_logic_deny_allow: how ztunnel
 *   matches a connection against the converted rules. Each RbacMatch field is reached through the
 *   AuthorizationPolicy field(s) istiod's handleRule turns into it.
 *
 * ztunnel's three test connections become pods placed here (trust domain cluster.local, not "td"):
 *   plaintext_conn: plain/plaintext (not enrolled, 10.10.0.5) → dst/d2 (10.30.0.2) port 8080
 *   tls_conn:       namespace/tls (enrolled, service account "account", 10.10.0.1) → dst/d2 port 8080
 *   tls_conn_alt:   ns-alt/alt (enrolled, service account "sa-alt", 10.20.0.3) → dst/d4 (10.30.0.4) port 9090
 * Upstream's plaintext and TLS connections share one source address (127.0.0.1/32 in its source
 * cases); two pods cannot, so both sit in 10.10.0.0/24 and the source-address cases use that range.
 * Policies live in namespace dst without a selector unless a case says otherwise, so they reach both
 * destinations, as upstream's one policy judges all three connections.
 */

interface Conn {
  from: string;
  to: string;
  port: number;
}
const PLAINTEXT: Conn = { from: 'plain/plaintext', to: 'dst/d2', port: 8080 };
const TLS: Conn = { from: 'namespace/tls', to: 'dst/d2', port: 8080 };
const TLS_ALT: Conn = { from: 'ns-alt/alt', to: 'dst/d4', port: 9090 };
const CONNS = [PLAINTEXT, TLS, TLS_ALT];
const TLS_PRINCIPAL = 'cluster.local/ns/namespace/sa/account';

const namespace = (name: string, enrolled: boolean) => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, ...(enrolled ? { labels: { 'istio.io/dataplane-mode': 'ambient' } } : {}) },
});
const pod = (ref: string, sa: string, ip: string, port = 8080, labels?: Record<string, string>) => {
  const [ns, name] = ref.split('/');
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, ...(labels ? { labels } : {}) },
    spec: { serviceAccountName: sa, containers: [{ name: 'c', ports: [{ containerPort: port }] }] },
    status: { podIP: ip },
  };
};

/** Sources for string matching and nesting: one pod `src` (service account "account") per namespace. */
const MATCH_NAMESPACES = ['foo', 'not', 'foobar', 'notfoo', 'barfoo', 'foonot', 'a', 'b', 'bad'];

const CLUSTER = [
  namespace('istio-system', false),
  namespace('plain', false),
  namespace('namespace', true),
  namespace('ns-alt', true),
  namespace('dst', true),
  namespace('default', true),
  namespace('ns1', true),
  namespace('ns2', true),
  ...MATCH_NAMESPACES.map((n) => namespace(n, true)),
  pod('plain/plaintext', 'default', '10.10.0.5'),
  pod('namespace/tls', 'account', '10.10.0.1'),
  pod('ns-alt/alt', 'sa-alt', '10.20.0.3', 9090),
  pod('dst/d2', 'default', '10.30.0.2'),
  pod('dst/d4', 'default', '10.30.0.4', 9090),
  // state.rs assert_rbac_logic_deny_allow: sources in `default`, destinations in ns1 and ns2;
  // ambientindex_test.go TestAmbientIndex_Policy: pod1 (app=a) and pod3 (app=not-a) in ns1.
  pod('default/defaultacct', 'defaultacct', '10.60.0.1'),
  pod('default/not-defaultacct', 'not-defaultacct', '10.60.0.2'),
  pod('default/denyacct', 'denyacct', '10.60.0.3'),
  pod('ns1/pod1', 'sa1', '10.50.0.1', 8080, { app: 'a' }),
  pod('ns1/pod3', 'sa1', '10.50.0.3', 8080, { app: 'not-a' }),
  pod('ns2/pod2', 'defaultacct', '10.50.0.2'),
  ...MATCH_NAMESPACES.map((n, i) => pod(`${n}/src`, 'account', `10.40.0.${i + 1}`)),
];

interface Verdict {
  outcome: string;
  reason: string;
}

/** The cluster above plus these AuthorizationPolicies; answers a connection's cell. */
function mesh(...policies: object[]): (c: Conn) => Verdict {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'authz-upstream-'));
  const file = path.join(dir, 'm.yaml');
  writeFileSync(file, [...CLUSTER, ...policies].map((o) => stringify(o)).join('---\n'));
  const model = new ReachabilityModel(readManifests([file]).state);
  const index = (ref: string) => {
    const i = model.podIndex(ref);
    if (i === undefined) throw new Error(`no pod ${ref}`);
    return i;
  };
  return (c) => {
    const cell = model.cell(index(c.from), index(c.to), c.port);
    return { outcome: cell.outcome, reason: cell.reason };
  };
}

/** The message readManifests refuses these policies with (what istiod's validating webhook refuses). */
function refused(...policies: object[]): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'authz-upstream-'));
  const file = path.join(dir, 'm.yaml');
  writeFileSync(file, [...CLUSTER, ...policies].map((o) => stringify(o)).join('---\n'));
  try {
    readManifests([file]);
  } catch (e) {
    const d = (e as { details?: { expected?: string } }).details;
    return `${(e as Error).message} | ${d?.expected ?? ''}`;
  }
  throw new Error('accepted');
}

const policy = (spec: object, meta: { name?: string; namespace?: string } = {}) => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name: meta.name ?? 'p', namespace: meta.namespace ?? 'dst' },
  spec,
});
const allow = (...rules: object[]) => policy({ action: 'ALLOW', rules });
const deny = (...rules: object[]) => policy({ action: 'DENY', rules });

const outcomes = (m: (c: Conn) => Verdict, conns: Conn[] = CONNS) => conns.map((c) => m(c).outcome);

/** The model's words for istiod's: an ALLOW rule with HTTP attributes is omitted; a DENY is enforced on its L4 part. */
const NONE_ALLOWS = 'mesh deny: ALLOW policies exist (dst/p) but none allows';
const ALLOW_NEEDS_L7 = 'dst/p need L7 attributes, which ztunnel cannot match without a waypoint';
const DENY_WITHOUT_L7 =
  'mesh deny: AuthorizationPolicy dst/p (DENY, rule 0) matches; its L7 conditions are ignored without a waypoint';

describe('istiod 1.28.3 TestConvertAuthorizationPolicyStatus, as L4 effects', () => {
  // Case "no status - targetRef is not for ztunnel" (spec.targetRef): istiod hands ztunnel nothing
  // for it. Its rules are empty, which as a ztunnel ALLOW would refuse everyone; bound to a Service
  // it changes no cell and no reason.
  it('a policy with a targetRef is not ztunnel’s: its empty ALLOW refuses nothing and goes unmentioned', () => {
    const targeted = policy({ targetRef: { kind: 'Service', name: 'test-svc' }, rules: [] });
    const m = mesh(targeted);
    for (const c of CONNS) {
      expect(m(c).outcome).toBe('allow');
      expect(m(c).reason).not.toContain('dst/p');
    }
    // The same policy bound by namespace instead does refuse everyone (what the targetRef prevents).
    expect(outcomes(mesh(policy({ rules: [] })))).toEqual(['deny', 'deny', 'deny']);
  });

  // Case "no status - policy is fine" (principals "trust/ns/echo-1234/", ports "http"). The test
  // converts the policy directly; on a cluster istiod's validating webhook refuses it first, since
  // a port must be a number (pkg/config/security/security.go ValidatePorts), and so does the matrix.
  it('principals + a named port: refused as the webhook refuses it; with a numeric port it is L4 and admits only the principal', () => {
    const rule = (port: string, principal = 'trust/ns/echo-1234/') => ({
      from: [{ source: { principals: [principal] } }],
      to: [{ operation: { ports: [port] } }],
    });
    expect(refused(allow(rule('http')))).toMatch(
      /AuthorizationPolicy dst\/p: invalid spec\.rules\[0\]\.to\[0\]\.operation\.ports\[0\] \| a port number from 0 to 65535/,
    );
    const m = mesh(allow(rule('8080')));
    for (const c of CONNS) {
      expect(m(c).outcome).toBe('deny');
      expect(m(c).reason).toContain(NONE_ALLOWS);
      expect(m(c).reason).not.toContain('L7');
    }
    expect(mesh(allow(rule('8080', TLS_PRINCIPAL)))(TLS).outcome).toBe('allow');
  });

  // Cases "unsupported AUDIT action" and "unsupported CUSTOM action" (spec.action): istiod reports
  // the action as unsupported and gives ztunnel no policy. As an ALLOW the same rules would refuse
  // everyone; as these actions they change nothing, and the reason says why. (CUSTOM needs a
  // provider and no principals, which the webhook checks, so its rule uses an ipBlock.)
  it.each([
    ['AUDIT', {}, { from: [{ source: { principals: ['trust/ns/echo-1234/'] } }] }],
    ['CUSTOM', { provider: { name: 'ext-authz' } }, { from: [{ source: { ipBlocks: ['192.0.2.0/24'] } }] }],
  ])('%s: no L4 effect, reported as an action ztunnel does not support', (action, extra, rule) => {
    const m = mesh(policy({ action, ...extra, rules: [rule] }));
    for (const c of CONNS) {
      expect(m(c).outcome).toBe('allow');
      expect(m(c).reason).toContain(
        `AuthorizationPolicy dst/p has no L4 effect: ztunnel does not support the ${action} action`,
      );
    }
    expect(mesh(allow(rule))(PLAINTEXT).outcome).toBe('deny');
  });

  it('what else the webhook refuses is refused, naming the field: CUSTOM without provider or with principals, DENY without rules, provider on ALLOW, an empty source, operation or value, a bad IP, an unknown condition key', () => {
    expect(refused(policy({ action: 'CUSTOM', rules: [{}] }))).toContain('invalid spec.provider.name');
    expect(
      refused(
        policy({
          action: 'CUSTOM',
          provider: { name: 'x' },
          rules: [{ from: [{ source: { principals: ['a'] } }] }],
        }),
      ),
    ).toContain('source.principals | no principals in a CUSTOM policy');
    expect(refused(policy({ action: 'DENY' }))).toContain('invalid spec.rules | rules on a DENY policy');
    expect(refused(policy({ action: 'ALLOW', provider: { name: 'x' }, rules: [{}] }))).toContain(
      'invalid spec.provider',
    );
    expect(refused(allow({ from: [{ source: {} }] }))).toContain(
      'invalid spec.rules[0].from[0].source | at least one field',
    );
    expect(refused(allow({ to: [{ operation: {} }] }))).toContain(
      'invalid spec.rules[0].to[0].operation | at least one field',
    );
    expect(refused(allow({ from: [{ source: { namespaces: [''] } }] }))).toContain('source.namespaces[0]');
    expect(refused(allow({ from: [{ source: { notIpBlocks: ['garbage'] } }] }))).toContain(
      'source.notIpBlocks[0] | an IP address or CIDR',
    );
    expect(refused(allow({ to: [{ operation: { notPorts: ['70000'] } }] }))).toContain(
      'operation.notPorts[0]',
    );
    expect(refused(allow({ when: [{ key: 'source.ip', values: ['*'] }] }))).toContain('when[0].values[0]');
    expect(refused(allow({ when: [{ key: 'destination.port', notValues: ['70000'] }] }))).toContain(
      'when[0].notValues[0]',
    );
    expect(refused(allow({ when: [{ key: 'source.ipp', values: ['1.2.3.4'] }] }))).toContain(
      'when[0].key | a condition key istiod knows',
    );
    expect(refused(allow({ when: [{ key: 'request.headers', values: ['x'] }] }))).toContain('when[0].key');
    expect(refused(allow({ when: [{ key: 'source.ip' }] }))).toContain('when[0].values');
    expect(refused(allow({ from: [{ source: { serviceAccounts: ['a/b/c'] } }] }))).toContain(
      'serviceAccounts[0]',
    );
  });

  // Case "unsupported HTTP methods" (from.source.requestPrincipals, to.operation.methods, when
  // request.auth.presenter), an ALLOW: istiod reports the three HTTP attributes and omits the rule,
  // so the ALLOW is left with no rule and refuses everyone; the reason says a waypoint is needed.
  it('ALLOW with requestPrincipals, methods and request.auth.presenter: the rule is omitted, nobody is allowed', () => {
    const m = mesh(
      allow({
        from: [{ source: { requestPrincipals: ['example.com/sub-1'] } }],
        to: [{ operation: { methods: ['GET'] } }],
        when: [{ key: 'request.auth.presenter', values: ['presenter.example.com'] }],
      }),
    );
    for (const c of CONNS) {
      expect(m(c).outcome).toBe('deny');
      expect(m(c).reason).toContain(NONE_ALLOWS);
      expect(m(c).reason).toContain(ALLOW_NEEDS_L7);
    }
  });

  // Same case, the ALLOW boilerplate ("rules matching HTTP attributes are omitted"): only the rules
  // with HTTP attributes go; a pure-L4 rule beside them still allows (handleRule works per rule).
  it('ALLOW: a rule with HTTP attributes is omitted, the L4 rule beside it still allows', () => {
    const m = mesh(
      allow(
        { from: [{ source: { namespaces: ['ns-alt'] } }], to: [{ operation: { methods: ['GET'] } }] },
        { from: [{ source: { namespaces: ['namespace'] } }] },
      ),
    );
    expect(m(TLS).outcome).toBe('allow');
    expect(m(TLS).reason).toContain('allowed by AuthorizationPolicy dst/p (rule 1)');
    expect(m(TLS_ALT).outcome).toBe('deny');
    expect(m(TLS_ALT).reason).toContain(ALLOW_NEEDS_L7);
  });

  // Same case as a DENY (authorization.go's DENY boilerplate: enforced without the HTTP rules).
  // handleRule still emits one match per from/to entry and per `when` condition; here each is
  // HTTP-only, so each is an empty match, which ztunnel never matches (rbac.rs matches skips it):
  // the rule matches nothing and nobody is refused, whatever the status message suggests.
  it('DENY with only requestPrincipals, methods and request.auth.presenter refuses nobody', () => {
    const m = mesh(
      deny({
        from: [{ source: { requestPrincipals: ['example.com/sub-1'] } }],
        to: [{ operation: { methods: ['GET'] } }],
        when: [{ key: 'request.auth.presenter', values: ['presenter.example.com'] }],
      }),
    );
    expect(outcomes(m)).toEqual(['allow', 'allow', 'allow']);
  });

  // Case "unsupported HTTP methods", extended to every Source field authorization.go httpSources
  // reports (requestPrincipals, notRequestPrincipals, remoteIpBlocks, notRemoteIpBlocks).
  describe.each([
    ['requestPrincipals', ['*']],
    ['notRequestPrincipals', ['example.com/sub-1']],
    ['remoteIpBlocks', ['10.10.0.0/24']],
    ['notRemoteIpBlocks', ['192.0.2.0/24']],
  ])('from.source.%s (httpSources)', (field, values) => {
    const rule = { from: [{ source: { namespaces: ['namespace'], [field]: values } }] };
    it('ALLOW: the rule is omitted, so even the namespace it names is refused', () => {
      const r = mesh(allow(rule))(TLS);
      expect(r.outcome).toBe('deny');
      expect(r.reason).toContain(ALLOW_NEEDS_L7);
    });
    it('DENY: the field is dropped and the namespace part is enforced', () => {
      const m = mesh(deny(rule));
      expect(m(TLS)).toEqual({ outcome: 'deny', reason: DENY_WITHOUT_L7 });
      expect(m(TLS_ALT).outcome).toBe('allow');
    });
    it('DENY: a source with only this field is an empty match and refuses nobody', () => {
      expect(outcomes(mesh(deny({ from: [{ source: { [field]: values } }] })))).toEqual([
        'allow',
        'allow',
        'allow',
      ]);
    });
  });

  // Case "unsupported HTTP methods", extended to every Operation field authorization.go
  // httpOperations reports (hosts, notHosts, methods, notMethods, paths, notPaths).
  describe.each([
    ['hosts', ['d2.dst.svc.cluster.local']],
    ['notHosts', ['other.example.com']],
    ['methods', ['GET']],
    ['notMethods', ['DELETE']],
    ['paths', ['/api']],
    ['notPaths', ['/admin']],
  ])('to.operation.%s (httpOperations)', (field, values) => {
    const rule = { to: [{ operation: { ports: ['8080'], [field]: values } }] };
    it('ALLOW: the rule is omitted, so even the port it names is refused', () => {
      const r = mesh(allow(rule))(TLS);
      expect(r.outcome).toBe('deny');
      expect(r.reason).toContain(ALLOW_NEEDS_L7);
    });
    it('DENY: the field is dropped and the port part is enforced', () => {
      const m = mesh(deny(rule));
      expect(m(TLS)).toEqual({ outcome: 'deny', reason: DENY_WITHOUT_L7 });
      expect(m(TLS_ALT).outcome).toBe('allow');
    });
    it('DENY: an operation with only this field is an empty match and refuses nobody', () => {
      expect(outcomes(mesh(deny({ to: [{ operation: { [field]: values } }] })))).toEqual([
        'allow',
        'allow',
        'allow',
      ]);
    });
  });

  // Case "unsupported HTTP methods" (when request.auth.presenter), extended to other `when` keys
  // outside authorization.go l4WhenAttributes (source.ip, source.namespace, source.principal,
  // destination.ip, destination.port): request.*, remote.ip, connection.sni, source.serviceAccount
  // and experimental.* are all HTTP attributes to istiod's ztunnel conversion.
  describe.each([
    ['request.auth.presenter', ['presenter.example.com']],
    ['request.auth.principal', ['example.com/sub-1']],
    ['request.auth.audiences', ['example.com']],
    ['request.auth.claims[iss]', ['https://issuer.example.com']],
    ['request.headers[x-user]', ['alice']],
    ['remote.ip', ['10.10.0.0/24']],
    ['connection.sni', ['d2.dst.svc.cluster.local']],
    ['source.serviceAccount', ['namespace/account']],
    ['experimental.envoy.filters.network.mysql_proxy[db.table]', ['[update]']],
  ])('when %s (not in l4WhenAttributes)', (key, values) => {
    const rule = { from: [{ source: { namespaces: ['namespace'] } }], when: [{ key, values }] };
    it('ALLOW: the rule is omitted, so even the namespace it names is refused', () => {
      const r = mesh(allow(rule))(TLS);
      expect(r.outcome).toBe('deny');
      expect(r.reason).toContain(ALLOW_NEEDS_L7);
    });
    // handleRule turns the condition into a match with no L4 field: an empty match in a clause of
    // its own, so the whole DENY rule never matches, its namespace part included.
    it('DENY: the condition becomes an empty match, so the rule refuses nobody', () => {
      expect(outcomes(mesh(deny(rule)))).toEqual(['allow', 'allow', 'allow']);
    });
  });
});

describe('istiod 1.28.3 TestAmbientIndex_Policy: which workloads a policy reaches', () => {
  // The test's policies have a selector or none, no action (ALLOW) and no rules: on a workload they
  // reach, ztunnel refuses everyone; elsewhere they change nothing.
  const noRules = (name: string, ns: string, selector?: Record<string, string>) =>
    policy(selector ? { selector: { matchLabels: selector } } : {}, { name, namespace: ns });
  const toPod1: Conn = { from: TLS.from, to: 'ns1/pod1', port: 8080 };
  const toPod3: Conn = { from: TLS.from, to: 'ns1/pod3', port: 8080 };
  const toD2: Conn = TLS;

  // Step "selector" (spec.selector app=a in ns1): on pod1 (app=a), not on pod3 (app=not-a).
  it('a selector policy reaches the pods it selects only', () => {
    const m = mesh(noRules('selector', 'ns1', { app: 'a' }));
    expect(m(toPod1).outcome).toBe('deny');
    expect(m(toPod1).reason).toContain('ALLOW policies exist (ns1/selector)');
    expect(m(toPod3).outcome).toBe('allow');
  });

  // Step "global-selector" (spec.selector in the root namespace): reaches matching pods of other
  // namespaces (app=a: pod1), and stops when the selector no longer matches (app=not-a).
  it('a root-namespace selector policy reaches matching pods in every namespace', () => {
    const a = mesh(noRules('global-selector', 'istio-system', { app: 'a' }));
    expect(a(toPod1).reason).toContain('ALLOW policies exist (istio-system/global-selector)');
    expect(a(toPod3).outcome).toBe('allow');
    const notA = mesh(noRules('global-selector', 'istio-system', { app: 'not-a' }));
    expect(notA(toPod1).outcome).toBe('allow');
    expect(notA(toPod3).outcome).toBe('deny');
  });

  // Steps "global" and "namespace" (no selector): not listed on the workload, because ztunnel looks
  // them up by the workload's namespace and globally (ztunnel src/state.rs assert_rbac). So the
  // namespace policy reaches all of ns1 and nothing outside; the root-namespace one, every pod.
  it('a namespace policy reaches its namespace; a root-namespace policy, every namespace', () => {
    const ns = mesh(noRules('namespace', 'ns1'));
    expect([ns(toPod1).outcome, ns(toPod3).outcome, ns(toD2).outcome]).toEqual(['deny', 'deny', 'allow']);
    const global = mesh(noRules('global', 'istio-system'));
    expect(global(toD2).outcome).toBe('deny');
    expect(global(toD2).reason).toContain('ALLOW policies exist (istio-system/global)');
  });

  // Step "gateway-targeted" (spec.targetRef to a Gateway): no workload gets it.
  it('a policy targeting a Gateway reaches no workload', () => {
    const m = mesh(
      policy(
        { targetRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'dummy-waypoint' } },
        { name: 'gateway-targeted', namespace: 'ns1' },
      ),
    );
    expect([m(toPod1).outcome, m(toPod3).outcome]).toEqual(['allow', 'allow']);
  });
});

describe('ztunnel 1.28.3 src/rbac.rs tests, through the AuthorizationPolicy fields istiod converts', () => {
  // rbac_empty_policy, first assertion (a rule whose one clause holds one empty match): an entry with
  // no L4 field becomes such a match. ALLOW from.source {} allows nobody; in a DENY, an HTTP-only
  // source is that empty match too and refuses nobody.
  it('rbac_empty_policy: a clause of empty matches never matches (the webhook refuses `source: {}`, so through a DENY with an HTTP-only source)', () => {
    expect(outcomes(mesh(deny({ from: [{ source: { requestPrincipals: ['*'] } }] })))).toEqual([
      'allow',
      'allow',
      'allow',
    ]);
  });
  // rbac_empty_policy, third assertion (a rule with no clauses matches): `rules: [{}]` is such a rule.
  it('rbac_empty_policy: a rule with no clauses matches everything (rules: [{}])', () => {
    const m = mesh(allow({}));
    expect(outcomes(m)).toEqual(['allow', 'allow', 'allow']);
    expect(m(PLAINTEXT).reason).toContain('allowed by AuthorizationPolicy dst/p (rule 0)');
  });
  // rbac_empty_policy, fourth assertion (no rules never matches): an ALLOW without rules refuses
  // everyone. (A DENY without rules, which would refuse nobody, is refused by the webhook.)
  it('rbac_empty_policy: a policy with no rules never matches', () => {
    const none = mesh(policy({ action: 'ALLOW' }));
    expect(outcomes(none)).toEqual(['deny', 'deny', 'deny']);
    expect(none(PLAINTEXT).reason).toContain(`${NONE_ALLOWS} plaintext from 10.10.0.5 on port 8080`);
  });

  const src = (ns: string, port: number, to = 'dst/d2'): Conn => ({ from: `${ns}/src`, to, port });

  // rbac_nesting (namespaces a or b, AND destination port 80): from.source.namespaces in two
  // entries, to.operation.ports. Its remote-network assertion has no counterpart here (no networks).
  it('rbac_nesting: either namespace, and the port', () => {
    const m = mesh(
      allow({
        from: [{ source: { namespaces: ['a'] } }, { source: { namespaces: ['b'] } }],
        to: [{ operation: { ports: ['80'] } }],
      }),
    );
    expect(outcomes(m, [src('a', 80), src('b', 80), src('bad', 80), src('b', 12345)])).toEqual([
      'allow',
      'allow',
      'deny',
      'deny',
    ]);
  });

  // rbac_multi_rule (two rules, namespace a; namespace b): two rules with from.source.namespaces.
  it('rbac_multi_rule: any rule may match', () => {
    const m = mesh(
      allow({ from: [{ source: { namespaces: ['a'] } }] }, { from: [{ source: { namespaces: ['b'] } }] }),
    );
    expect(outcomes(m, [src('a', 80), src('b', 80), src('bad', 80)])).toEqual(['allow', 'allow', 'deny']);
    expect(m(src('b', 80)).reason).toContain('allowed by AuthorizationPolicy dst/p (rule 1)');
  });

  // The rbac_test! cases: one match with one field set, judged on [plaintext_conn, tls_conn,
  // tls_conn_alt]. Columns: upstream test, the AuthorizationPolicy field handleRule turns into it,
  // the rule, the expected outcomes.
  const when = (key: string, values: string[], not = false) => ({
    when: [{ key, [not ? 'notValues' : 'values']: values }],
  });
  const from = (source: object) => ({ from: [{ source }] });
  it.each([
    ['namespaces', 'from.source.namespaces', from({ namespaces: ['namespace'] }), 'deny allow deny'],
    [
      'namespaces',
      'when source.namespace values',
      when('source.namespace', ['namespace']),
      'deny allow deny',
    ],
    [
      'not_namespaces',
      'from.source.notNamespaces',
      from({ notNamespaces: ['namespace'] }),
      'allow deny allow',
    ],
    [
      'not_namespaces',
      'when source.namespace notValues',
      when('source.namespace', ['namespace'], true),
      'allow deny allow',
    ],
    [
      'service_accounts',
      'from.source.serviceAccounts',
      from({ serviceAccounts: ['namespace/account'] }),
      'deny allow deny',
    ],
    [
      'not_service_accounts',
      'from.source.notServiceAccounts',
      from({ notServiceAccounts: ['namespace/account'] }),
      'allow deny allow',
    ],
    ['principals', 'from.source.principals', from({ principals: [TLS_PRINCIPAL] }), 'deny allow deny'],
    [
      'principals',
      'when source.principal values',
      when('source.principal', [TLS_PRINCIPAL]),
      'deny allow deny',
    ],
    [
      'not_principals',
      'from.source.notPrincipals',
      from({ notPrincipals: [TLS_PRINCIPAL] }),
      'allow deny allow',
    ],
    [
      'not_principals',
      'when source.principal notValues',
      when('source.principal', [TLS_PRINCIPAL], true),
      'allow deny allow',
    ],
    ['source_ips', 'from.source.ipBlocks', from({ ipBlocks: ['10.10.0.0/24'] }), 'allow allow deny'],
    ['source_ips', 'when source.ip values', when('source.ip', ['10.10.0.0/24']), 'allow allow deny'],
    // A bare address is a full-length prefix (authorization.go stringToIP): only tls_conn's pod.
    ['source_ips', 'from.source.ipBlocks, one address', from({ ipBlocks: ['10.10.0.1'] }), 'deny allow deny'],
    ['not_source_ips', 'from.source.notIpBlocks', from({ notIpBlocks: ['10.10.0.0/24'] }), 'deny deny allow'],
    [
      'not_source_ips',
      'when source.ip notValues',
      when('source.ip', ['10.10.0.0/24'], true),
      'deny deny allow',
    ],
    [
      'destination_ips',
      'when destination.ip values',
      when('destination.ip', ['10.30.0.2']),
      'allow allow deny',
    ],
    [
      'destination_ips',
      'when destination.ip values, /32',
      when('destination.ip', ['10.30.0.2/32']),
      'allow allow deny',
    ],
    [
      'not_destination_ips',
      'when destination.ip notValues',
      when('destination.ip', ['10.30.0.2'], true),
      'deny deny allow',
    ],
    // Host bits set in the prefix, as upstream's 127.0.0.1/24: the range is what counts.
    [
      'cidr_range',
      'when destination.ip values, /24',
      when('destination.ip', ['10.30.0.1/24']),
      'allow allow allow',
    ],
    [
      'destination_ports',
      'to.operation.ports',
      { to: [{ operation: { ports: ['8080'] } }] },
      'allow allow deny',
    ],
    [
      'destination_ports',
      'when destination.port values',
      when('destination.port', ['8080']),
      'allow allow deny',
    ],
    [
      'not_destination_ports',
      'to.operation.notPorts',
      { to: [{ operation: { notPorts: ['8080'] } }] },
      'deny deny allow',
    ],
    [
      'not_destination_ports',
      'when destination.port notValues',
      when('destination.port', ['8080'], true),
      'deny deny allow',
    ],
  ])('%s via %s', (_test, _field, rule, expected) => {
    const m = mesh(allow(rule));
    expect(outcomes(m).join(' ')).toBe(expected);
    for (const c of CONNS) {
      const r = m(c);
      if (r.outcome === 'allow') expect(r.reason).toContain('allowed by AuthorizationPolicy dst/p (rule 0)');
      else {
        expect(r.reason).toContain(NONE_ALLOWS);
        expect(r.reason).not.toContain('L7');
      }
    }
  });

  // string_match: exact, prefix, suffix and presence, against a value or against nothing (a
  // plaintext source has no namespace or principal: ztunnel matches the empty string). Through
  // from.source.namespaces, and through from.source.principals, which ztunnel matches after
  // taking spiffe:// off the identity (rbac.rs matches_principal).
  const byNamespace = (ns: string): Conn => (ns === '' ? PLAINTEXT : src(ns, 8080));
  it.each([
    ['exact match', 'foo', 'foo', 'allow'],
    ['exact mismatch', 'foo', 'not', 'deny'],
    ['exact empty mismatch', 'foo', '', 'deny'],
    ['prefix match', 'foo*', 'foobar', 'allow'],
    ['prefix mismatch', 'foo*', 'notfoo', 'deny'],
    ['prefix empty mismatch', 'foo*', '', 'deny'],
    ['suffix match', '*foo', 'barfoo', 'allow'],
    ['suffix mismatch', '*foo', 'foonot', 'deny'],
    ['suffix empty mismatch', '*foo', '', 'deny'],
    ['presence match', '*', 'foo', 'allow'],
    ['presence mismatch', '*', '', 'deny'],
  ])(
    'string_match "%s" via from.source.namespaces [%s] from namespace "%s"',
    (_case, pattern, ns, expected) => {
      expect(mesh(allow(from({ namespaces: [pattern] })))(byNamespace(ns)).outcome).toBe(expected);
    },
  );
  it.each([
    ['exact match', 'cluster.local/ns/foo/sa/account', 'foo', 'allow'],
    ['exact mismatch', 'cluster.local/ns/foo/sa/account', 'not', 'deny'],
    ['exact empty mismatch', 'cluster.local/ns/foo/sa/account', '', 'deny'],
    ['prefix match', 'cluster.local/ns/foo*', 'foobar', 'allow'],
    ['prefix mismatch', 'cluster.local/ns/foo*', 'notfoo', 'deny'],
    ['prefix empty mismatch', 'cluster.local/ns/foo*', '', 'deny'],
    ['suffix match', '*foo/sa/account', 'barfoo', 'allow'],
    ['suffix mismatch', '*foo/sa/account', 'foonot', 'deny'],
    ['suffix empty mismatch', '*foo/sa/account', '', 'deny'],
    ['presence match', '*', 'foo', 'allow'],
    ['presence mismatch', '*', '', 'deny'],
  ])(
    'string_match "%s" via from.source.principals [%s] from namespace "%s"',
    (_case, pattern, ns, expected) => {
      expect(mesh(allow(from({ principals: [pattern] })))(byNamespace(ns)).outcome).toBe(expected);
    },
  );
});

describe('ztunnel 1.28.3 src/state.rs assert_rbac_logic_deny_allow: DENY first, then ALLOW', () => {
  // An ALLOW for default/defaultacct and a DENY for default/denyacct, both in ns1 (namespace scope).
  const byPrincipal = (action: string, name: string, sa: string) =>
    policy(
      { action, rules: [{ from: [{ source: { principals: [`cluster.local/ns/default/sa/${sa}`] } }] }] },
      { name, namespace: 'ns1' },
    );
  const allowFoo = byPrincipal('ALLOW', 'foo', 'defaultacct');
  const denyDeny = byPrincipal('DENY', 'deny', 'denyacct');
  const policies = [allowFoo, denyDeny];
  const to = (sa: string, dst: string): Conn => ({ from: `default/${sa}`, to: dst, port: 8080 });

  it('no policy on the workload: allowed', () => {
    expect(mesh(...policies)(to('not-defaultacct', 'ns2/pod2')).outcome).toBe('allow');
  });
  it('an ALLOW matches: allowed', () => {
    const r = mesh(...policies)(to('defaultacct', 'ns1/pod1'));
    expect(r.outcome).toBe('allow');
    expect(r.reason).toContain('allowed by AuthorizationPolicy ns1/foo (rule 0)');
  });
  it('ALLOW policies exist and none matches: refused as not allowed', () => {
    const r = mesh(...policies)(to('not-defaultacct', 'ns1/pod1'));
    expect(r.outcome).toBe('deny');
    expect(r.reason).toContain('ALLOW policies exist (ns1/foo) but none allows');
  });
  it('a DENY matches: refused by that DENY, not for want of an ALLOW', () => {
    const r = mesh(...policies)(to('denyacct', 'ns1/pod1'));
    expect(r.outcome).toBe('deny');
    expect(r.reason).toBe('mesh deny: AuthorizationPolicy ns1/deny (DENY, rule 0) matches');
    // The same order when an ALLOW would also admit the source (the rules the test's comments list:
    // a matching DENY refuses before any ALLOW is looked at).
    const both = mesh(
      denyDeny,
      policy({ action: 'ALLOW', rules: [{}] }, { name: 'everyone', namespace: 'ns1' }),
    );
    expect(both(to('denyacct', 'ns1/pod1')).reason).toBe(
      'mesh deny: AuthorizationPolicy ns1/deny (DENY, rule 0) matches',
    );
    expect(both(to('defaultacct', 'ns1/pod1')).outcome).toBe('allow');
  });
});
