import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserInputError } from '../errors.ts';
import { parseCidr, parseIp } from './apivalidation.ts';
import { readManifests } from './manifests.ts';

/**
 * `netpol matrix` refuses what the Kubernetes API server (v1.34) and Istio 1.28's CRDs refuse, with
 * one message naming the file, the object and the field, what was expected and what was seen. The
 * rules and their upstream sources are in apivalidation.ts and decode.ts.
 */

function dir(files: Record<string, string>): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'v-'));
  for (const [n, c] of Object.entries(files)) writeFileSync(path.join(d, n), c);
  return d;
}

function fail(inputs: string[]): UserInputError {
  try {
    readManifests(inputs);
  } catch (e) {
    if (e instanceof UserInputError) return e;
    throw e;
  }
  throw new Error('expected a UserInputError');
}

/** One object in one JSON file: the error it is refused with, and the file. */
function refuse(object: Record<string, unknown>): { e: UserInputError; file: string } {
  const file = path.join(dir({ 'm.json': JSON.stringify(object) }), 'm.json');
  return { e: fail([file]), file };
}

const np = (
  spec: Record<string, unknown>,
  metadata: Record<string, unknown> = { name: 'np', namespace: 'loki' },
) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata,
  spec,
});
const from = (peer: Record<string, unknown>) => ({ podSelector: {}, ingress: [{ from: [peer] }] });
const ports = (port: Record<string, unknown>) => ({ podSelector: {}, ingress: [{ ports: [port] }] });
const pod = (
  spec: Record<string, unknown> = { containers: [{ name: 'c' }] },
  status: Record<string, unknown> | null = { podIP: '10.244.1.10' },
  metadata: Record<string, unknown> = { name: 'p', namespace: 'apps' },
) => ({ apiVersion: 'v1', kind: 'Pod', metadata, spec, ...(status ? { status } : {}) });

interface Case {
  name: string;
  object: Record<string, unknown>;
  /** "Kind namespace/name" as the message names it. */
  what: string;
  field: string;
  problem?: 'invalid' | 'unknown field' | 'missing';
  expected: string;
  seen: string;
}

function check(c: Case): void {
  const { e, file } = refuse(c.object);
  expect(e.exitCode).toBe(2);
  expect(e.message).toBe(`${file}: ${c.what}: ${c.problem ?? 'invalid'} ${c.field}`);
  expect(e.details.expected).toContain(c.expected);
  expect(e.details.seen).toBe(c.seen);
}

const NP = 'NetworkPolicy loki/np';

describe('NetworkPolicy ipBlock (ValidateIPBlock, Kubernetes v1.34)', () => {
  const cidr = 'spec.ingress[0].from[0].ipBlock.cidr';
  const except0 = 'spec.ingress[0].from[0].ipBlock.except[0]';
  it.each<Case>([
    {
      name: 'a prefix length beyond 32',
      object: np(from({ ipBlock: { cidr: '10.244.2.0/33' } })),
      what: NP,
      field: cidr,
      expected: 'prefix length of at most 32',
      seen: '"10.244.2.0/33"',
    },
    {
      name: 'a word',
      object: np(from({ ipBlock: { cidr: 'banana' } })),
      what: NP,
      field: cidr,
      expected: 'a CIDR: an IP address, "/" and a prefix length',
      seen: '"banana"',
    },
    {
      name: 'an address without a prefix length',
      object: np(from({ ipBlock: { cidr: '10.244.2.20' } })),
      what: NP,
      field: cidr,
      expected: 'a single address is written with /32',
      seen: '"10.244.2.20"',
    },
    {
      name: 'an IPv6 prefix beyond 128',
      object: np(from({ ipBlock: { cidr: 'fd00::/129' } })),
      what: NP,
      field: cidr,
      expected: 'at most 128 for an IPv6 address',
      seen: '"fd00::/129"',
    },
    {
      name: 'leading zeros (ambiguous: octal to libc, and kube-network-policies would match everything)',
      object: np(from({ ipBlock: { cidr: '010.244.2.0/24' } })),
      what: NP,
      field: cidr,
      expected: 'without leading zeros',
      seen: '"010.244.2.0/24"',
    },
    {
      name: 'an IPv4-mapped IPv6 address',
      object: np(from({ ipBlock: { cidr: '::ffff:10.0.0.0/120' } })),
      what: NP,
      field: cidr,
      expected: 'IPv4-mapped',
      seen: '"::ffff:10.0.0.0/120"',
    },
    {
      name: 'no cidr',
      object: np(from({ ipBlock: { except: ['10.0.0.0/24'] } })),
      what: NP,
      field: cidr,
      problem: 'missing',
      expected: 'a CIDR',
      seen: 'nothing',
    },
    {
      name: 'an except outside the cidr',
      object: np(from({ ipBlock: { cidr: '10.244.2.0/24', except: ['10.244.3.0/28'] } })),
      what: NP,
      field: except0,
      expected: 'a CIDR strictly inside cidr 10.244.2.0/24',
      seen: '"10.244.3.0/28"',
    },
    {
      name: 'an except equal to the cidr (not strictly inside)',
      object: np(from({ ipBlock: { cidr: '10.244.2.0/24', except: ['10.244.2.0/24'] } })),
      what: NP,
      field: except0,
      expected: 'strictly inside',
      seen: '"10.244.2.0/24"',
    },
    {
      name: 'an except wider than the cidr',
      object: np(from({ ipBlock: { cidr: '10.244.2.0/24', except: ['10.244.0.0/16'] } })),
      what: NP,
      field: except0,
      expected: 'strictly inside',
      seen: '"10.244.0.0/16"',
    },
    {
      name: 'an except of the other address family',
      object: np(from({ ipBlock: { cidr: '10.244.2.0/24', except: ['fd00::/64'] } })),
      what: NP,
      field: except0,
      expected: 'the same address family',
      seen: '"fd00::/64"',
    },
    {
      name: 'an except that is no CIDR',
      object: np(from({ ipBlock: { cidr: '10.244.2.0/24', except: ['10.244.2.7'] } })),
      what: NP,
      field: except0,
      expected: 'a CIDR',
      seen: '"10.244.2.7"',
    },
    {
      name: 'ipBlock together with a podSelector',
      object: np(from({ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} })),
      what: NP,
      field: 'spec.ingress[0].from[0]',
      expected: 'ipBlock cannot be combined with podSelector or namespaceSelector',
      seen: '{"ipBlock":{"cidr":"10.0.0.0/8"},"podSelector":{}}',
    },
    {
      name: 'an empty peer',
      object: np(from({})),
      what: NP,
      field: 'spec.ingress[0].from[0]',
      expected: 'a peer: podSelector, namespaceSelector (or both), or ipBlock',
      seen: '{}',
    },
  ])('refuses $name', check);

  it('accepts a cidr with host bits set, as v1.34 does (legacy validation), reads it as its network and warns', () => {
    const d = dir({
      'np.json': JSON.stringify(
        np(from({ ipBlock: { cidr: '10.244.2.20/24', except: ['10.244.2.128/25'] } })),
      ),
    });
    const r = readManifests([d]);
    expect(r.state.networkPolicies[0]?.ingress[0]?.peers?.[0]?.ipBlock).toEqual({
      cidr: '10.244.2.20/24',
      except: ['10.244.2.128/25'],
    });
    expect(r.warnings).toEqual([
      `${path.join(d, 'np.json')}: NetworkPolicy loki/np: ${'spec.ingress[0].from[0].ipBlock.cidr'}: CIDR value "10.244.2.20/24" has bits set beyond its prefix length; Kubernetes v1.34 accepts it with a warning ("ambiguous") and it means 10.244.2.0/24, as the matrix reads it (write 10.244.2.0/24, or 10.244.2.20/32 for the single address)`,
    ]);
  });

  it('parses CIDRs and addresses as the API server’s strict rules do', () => {
    expect(parseCidr('10.244.2.20/24')).toMatchObject({
      prefix: 24,
      bits: 32,
      hostBitsSet: true,
      canonical: '10.244.2.0/24',
    });
    expect(parseCidr('fd00:0:0:1::5/64')).toMatchObject({
      prefix: 64,
      bits: 128,
      hostBitsSet: true,
      canonical: 'fd00:0:0:1::/64',
    });
    expect(parseCidr('0.0.0.0/0')).toMatchObject({ prefix: 0, hostBitsSet: false, canonical: '0.0.0.0/0' });
    expect(parseCidr('10.0.0.0/08')).toHaveProperty('error');
    expect(parseIp('fe80::1%eth0')).toHaveProperty('error');
    expect(parseIp('1.2.3')).toHaveProperty('error');
    expect(parseIp('256.1.1.1')).toHaveProperty('error');
    expect(parseIp('2001:db8::1')).toMatchObject({ bits: 128 });
  });
});

describe('NetworkPolicy ports (ValidateNetworkPolicyPort)', () => {
  const port = 'spec.ingress[0].ports[0]';
  it.each<Case>([
    {
      name: 'endPort without port',
      object: np(ports({ endPort: 9000 })),
      what: NP,
      field: `${port}.endPort`,
      expected: 'endPort only together with a numeric port',
      seen: '9000',
    },
    {
      name: 'endPort below port',
      object: np(ports({ port: 9000, endPort: 8000 })),
      what: NP,
      field: `${port}.endPort`,
      expected: 'not below port (9000)',
      seen: '8000',
    },
    {
      name: 'endPort with a named port',
      object: np(ports({ port: 'http', endPort: 8000 })),
      what: NP,
      field: `${port}.endPort`,
      expected: 'no endPort with a named port',
      seen: '8000',
    },
    {
      name: 'endPort beyond 65535',
      object: np(ports({ port: 9000, endPort: 70000 })),
      what: NP,
      field: `${port}.endPort`,
      expected: 'a port number from 1 to 65535',
      seen: '70000',
    },
    {
      name: 'port 0',
      object: np(ports({ port: 0 })),
      what: NP,
      field: `${port}.port`,
      expected: 'a port number from 1 to 65535',
      seen: '0',
    },
    {
      name: 'port 99999',
      object: np(ports({ port: 99999 })),
      what: NP,
      field: `${port}.port`,
      expected: 'a port number from 1 to 65535',
      seen: '99999',
    },
    {
      name: 'a quoted number (a port name without a letter)',
      object: np(ports({ port: '8080' })),
      what: NP,
      field: `${port}.port`,
      expected: 'a quoted number is read as a name',
      seen: '"8080"',
    },
    {
      name: 'a port name longer than 15',
      object: np(ports({ port: 'http-metrics-extra' })),
      what: NP,
      field: `${port}.port`,
      expected: 'IANA_SVC_NAME',
      seen: '"http-metrics-extra"',
    },
    {
      name: 'a port name with "--"',
      object: np(ports({ port: 'web--a' })),
      what: NP,
      field: `${port}.port`,
      expected: 'no "--"',
      seen: '"web--a"',
    },
    {
      name: 'a port name in upper case',
      object: np(ports({ port: 'HTTP' })),
      what: NP,
      field: `${port}.port`,
      expected: 'IANA_SVC_NAME',
      seen: '"HTTP"',
    },
    {
      name: 'protocol in lower case',
      object: np(ports({ protocol: 'tcp', port: 80 })),
      what: NP,
      field: `${port}.protocol`,
      expected: 'one of TCP, UDP, SCTP',
      seen: '"tcp"',
    },
    {
      name: 'protocol ICMP',
      object: np(ports({ protocol: 'ICMP' })),
      what: NP,
      field: `${port}.protocol`,
      expected: 'one of TCP, UDP, SCTP',
      seen: '"ICMP"',
    },
    {
      name: 'a third policyType',
      object: np({ podSelector: {}, policyTypes: ['Ingress', 'Egress', 'Ingress'] }),
      what: NP,
      field: 'spec.policyTypes',
      expected: 'at most two policyTypes',
      seen: '["Ingress","Egress","Ingress"]',
    },
    {
      name: 'a misspelt policyType',
      object: np({ podSelector: {}, policyTypes: ['Ingres'] }),
      what: NP,
      field: 'spec.policyTypes[0]',
      expected: 'Ingress or Egress',
      seen: '"Ingres"',
    },
  ])('refuses $name', check);

  it('accepts port ranges, named ports and SCTP', () => {
    const d = dir({
      'np.json': JSON.stringify(
        np({
          podSelector: {},
          ingress: [
            { ports: [{ port: 8000, endPort: 9000 }, { port: 'http-metrics' }, { protocol: 'SCTP' }] },
          ],
        }),
      ),
    });
    expect(readManifests([d]).state.networkPolicies[0]?.ingress[0]?.ports).toEqual([
      { port: 8000, endPort: 9000 },
      { port: 'http-metrics' },
      { protocol: 'SCTP' },
    ]);
  });
});

describe('label selectors (ValidateLabelSelector, apimachinery v0.34.10)', () => {
  const expr = (e: Record<string, unknown>) => np({ podSelector: { matchExpressions: [e] } });
  const ex = 'spec.podSelector.matchExpressions[0]';
  it.each<Case>([
    {
      name: 'In without values',
      object: expr({ key: 'app', operator: 'In' }),
      what: NP,
      field: `${ex}.values`,
      problem: 'missing',
      expected: 'at least one value: operator In needs values',
      seen: 'nothing',
    },
    {
      name: 'NotIn with an empty list',
      object: expr({ key: 'app', operator: 'NotIn', values: [] }),
      what: NP,
      field: `${ex}.values`,
      problem: 'missing',
      expected: 'operator NotIn needs values',
      seen: '[]',
    },
    {
      name: 'Exists with values',
      object: expr({ key: 'app', operator: 'Exists', values: ['a'] }),
      what: NP,
      field: `${ex}.values`,
      expected: 'no values: operator Exists takes none',
      seen: '["a"]',
    },
    {
      name: 'DoesNotExist with values',
      object: expr({ key: 'app', operator: 'DoesNotExist', values: ['a'] }),
      what: NP,
      field: `${ex}.values`,
      expected: 'operator DoesNotExist takes none',
      seen: '["a"]',
    },
    {
      name: 'an unknown operator',
      object: expr({ key: 'app', operator: 'Equals', values: ['a'] }),
      what: NP,
      field: `${ex}.operator`,
      expected: 'one of In, NotIn, Exists, DoesNotExist',
      seen: '"Equals"',
    },
    {
      name: 'a key with a space',
      object: expr({ key: 'my app', operator: 'Exists' }),
      what: NP,
      field: `${ex}.key`,
      expected: 'a label key: a qualified name',
      seen: '"my app"',
    },
    {
      name: 'a key with two slashes',
      object: expr({ key: 'a/b/c', operator: 'Exists' }),
      what: NP,
      field: `${ex}.key`,
      expected: 'a qualified name',
      seen: '"a/b/c"',
    },
    {
      name: 'a key whose prefix is no DNS subdomain',
      object: expr({ key: 'Example.com/app', operator: 'Exists' }),
      what: NP,
      field: `${ex}.key`,
      expected: 'DNS-1123 subdomain prefix',
      seen: '"Example.com/app"',
    },
    {
      name: 'a value that is no label value',
      object: expr({ key: 'app', operator: 'In', values: ['-web'] }),
      what: NP,
      field: `${ex}.values[0]`,
      expected: 'a label value',
      seen: '"-web"',
    },
    {
      name: 'a matchLabels key with a space',
      object: np({ podSelector: { matchLabels: { 'bad key': 'x' } } }),
      what: NP,
      field: 'spec.podSelector.matchLabels["bad key"]',
      expected: 'a label key',
      seen: '"bad key"',
    },
    {
      name: 'a matchLabels value of 64 characters',
      object: np(from({ namespaceSelector: { matchLabels: { team: 'a'.repeat(64) } } })),
      what: NP,
      field: 'spec.ingress[0].from[0].namespaceSelector.matchLabels["team"]',
      expected: 'at most 63',
      seen: JSON.stringify('a'.repeat(64)),
    },
    {
      name: 'a matchLabels value YAML reads as a number',
      object: np({ podSelector: { matchLabels: { version: 1.5 } } }),
      what: NP,
      field: 'spec.podSelector.matchLabels["version"]',
      expected: 'a string (quote values',
      seen: '1.5',
    },
  ])('refuses $name', check);
});

describe('strict decoding: unknown fields are refused', () => {
  it.each<Case>([
    {
      name: 'a misspelt ingress (which would silently turn the policy into default-deny)',
      object: np({ podSelector: {}, ingres: [{}] }),
      what: NP,
      field: 'spec.ingres',
      problem: 'unknown field',
      expected:
        'one of the fields of NetworkPolicySpec (networking.k8s.io/v1): podSelector, ingress, egress, policyTypes',
      seen: 'ingres',
    },
    {
      name: 'a misspelt from',
      object: np({ podSelector: {}, ingress: [{ form: [] }] }),
      what: NP,
      field: 'spec.ingress[0].form',
      problem: 'unknown field',
      expected: 'NetworkPolicyIngressRule',
      seen: 'form',
    },
    {
      name: 'from in an egress rule',
      object: np({ podSelector: {}, egress: [{ from: [] }] }),
      what: NP,
      field: 'spec.egress[0].from',
      problem: 'unknown field',
      expected: 'NetworkPolicyEgressRule (networking.k8s.io/v1): ports, to',
      seen: 'from',
    },
    {
      name: 'a misspelt podSelector in a peer',
      object: np(from({ podSelecter: {} })),
      what: NP,
      field: 'spec.ingress[0].from[0].podSelecter',
      problem: 'unknown field',
      expected: 'NetworkPolicyPeer',
      seen: 'podSelecter',
    },
    {
      name: 'a misspelt except',
      object: np(from({ ipBlock: { cidr: '10.0.0.0/8', exception: [] } })),
      what: NP,
      field: 'spec.ingress[0].from[0].ipBlock.exception',
      problem: 'unknown field',
      expected: 'IPBlock',
      seen: 'exception',
    },
    {
      name: 'a selector field of another API',
      object: np({ podSelector: { matchLabel: { app: 'x' } } }),
      what: NP,
      field: 'spec.podSelector.matchLabel',
      problem: 'unknown field',
      expected: 'LabelSelector (meta/v1): matchLabels, matchExpressions',
      seen: 'matchLabel',
    },
    {
      name: 'a status on a NetworkPolicy (networking/v1 has none in v1.34)',
      object: { ...np({}), status: {} },
      what: NP,
      field: 'status',
      problem: 'unknown field',
      expected: 'NetworkPolicy (networking.k8s.io/v1)',
      seen: 'status',
    },
    {
      name: 'metadata.label',
      object: np({}, { name: 'np', namespace: 'loki', label: { a: 'b' } }),
      what: NP,
      field: 'metadata.label',
      problem: 'unknown field',
      expected: 'ObjectMeta',
      seen: 'label',
    },
    {
      name: 'a misspelt Namespace field',
      object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x', lables: {} } },
      what: 'Namespace x',
      field: 'metadata.lables',
      problem: 'unknown field',
      expected: 'ObjectMeta',
      seen: 'lables',
    },
    {
      name: 'a misspelt Pod spec field',
      object: pod({ containers: [{ name: 'c' }], serviceAcountName: 'x' }),
      what: 'Pod apps/p',
      field: 'spec.serviceAcountName',
      problem: 'unknown field',
      expected: 'PodSpec (v1)',
      seen: 'serviceAcountName',
    },
    {
      name: 'a misspelt container field',
      object: pod({ containers: [{ name: 'c', port: [{ containerPort: 80 }] }] }),
      what: 'Pod apps/p',
      field: 'spec.containers[0].port',
      problem: 'unknown field',
      expected: 'Container (v1)',
      seen: 'port',
    },
    {
      name: 'a misspelt container port field',
      object: pod({ containers: [{ name: 'c', ports: [{ containerport: 80 }] }] }),
      what: 'Pod apps/p',
      field: 'spec.containers[0].ports[0].containerport',
      problem: 'unknown field',
      expected: 'ContainerPort (v1): name, hostPort, containerPort, protocol, hostIP',
      seen: 'containerport',
    },
    {
      name: 'a misspelt PeerAuthentication mode',
      object: {
        apiVersion: 'security.istio.io/v1',
        kind: 'PeerAuthentication',
        metadata: { name: 'default', namespace: 'loki' },
        spec: { mtls: { mod: 'STRICT' } },
      },
      what: 'PeerAuthentication loki/default',
      field: 'spec.mtls.mod',
      problem: 'unknown field',
      expected: 'PeerAuthentication mtls',
      seen: 'mod',
    },
    {
      name: 'matchExpressions in an Istio selector',
      object: {
        apiVersion: 'security.istio.io/v1',
        kind: 'PeerAuthentication',
        metadata: { name: 'pa', namespace: 'loki' },
        spec: { selector: { matchExpressions: [] } },
      },
      what: 'PeerAuthentication loki/pa',
      field: 'spec.selector.matchExpressions',
      problem: 'unknown field',
      expected: 'WorkloadSelector (security.istio.io/v1): matchLabels',
      seen: 'matchExpressions',
    },
    {
      name: 'a misspelt AuthorizationPolicy source field (which would be read as L7 and never match)',
      object: {
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'ap', namespace: 'loki' },
        spec: { rules: [{ from: [{ source: { principal: ['x'] } }] }] },
      },
      what: 'AuthorizationPolicy loki/ap',
      field: 'spec.rules[0].from[0].source.principal',
      problem: 'unknown field',
      expected: 'Source (security.istio.io/v1): principals',
      seen: 'principal',
    },
  ])('refuses $name', check);

  it('accepts `kubectl get pods -o yaml` output: a v1 List, server-set metadata, every PodSpec field and status fields of newer releases', () => {
    const d = dir({ 'pods.yaml': KUBECTL_GET_PODS });
    const r = readManifests([d]);
    expect(r.state.pods).toEqual([
      {
        namespace: 'loki',
        name: 'loki-0',
        labels: {
          app: 'loki',
          'apps.kubernetes.io/pod-index': '0',
          'controller-revision-hash': 'loki-5d8f7c9b6',
          'statefulset.kubernetes.io/pod-name': 'loki-0',
        },
        annotations: { 'ambient.istio.io/redirection': 'enabled' },
        ip: '10.244.2.20',
        ports: [{ name: 'http-metrics', containerPort: 3100, protocol: 'TCP' }],
        serviceAccount: 'loki',
        nodeName: 'ambient-worker',
        hostIP: '172.18.0.3',
        probes: [{ probe: 'readiness', container: 'loki', handler: 'httpGet', port: 3100 }],
      },
    ]);
    expect(r.warnings).toEqual([]);
  });

  it('reads a typed list as the API returns it (PodList items without kind and apiVersion)', () => {
    const item = pod();
    const d = dir({
      'raw.json': JSON.stringify({
        apiVersion: 'v1',
        kind: 'PodList',
        metadata: { resourceVersion: '1' },
        items: [{ metadata: item.metadata, spec: item.spec, status: item.status }],
      }),
    });
    expect(readManifests([d]).state.pods.map((p) => `${p.namespace}/${p.name}`)).toEqual(['apps/p']);
  });

  it('reads the deprecated spec.serviceAccount when serviceAccountName is empty (v1 conversion)', () => {
    const d = dir({
      'p.json': JSON.stringify(pod({ containers: [{ name: 'c' }], serviceAccount: 'legacy' })),
    });
    expect(readManifests([d]).state.pods[0]?.serviceAccount).toBe('legacy');
  });
});

describe('metadata, apiVersion and Pods', () => {
  it.each<Case>([
    {
      name: 'a Pod name with capitals',
      object: pod(undefined, undefined, { name: 'Prometheus', namespace: 'apps' }),
      what: 'Pod apps/Prometheus',
      field: 'metadata.name',
      expected: 'a DNS-1123 subdomain',
      seen: '"Prometheus"',
    },
    {
      name: 'a namespace with a dot',
      object: pod(undefined, undefined, { name: 'p', namespace: 'team.a' }),
      what: 'Pod team.a/p',
      field: 'metadata.namespace',
      expected: 'a DNS-1123 label',
      seen: '"team.a"',
    },
    {
      name: 'a Namespace name with a dot (a label, not a subdomain)',
      object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team.a' } },
      what: 'Namespace team.a',
      field: 'metadata.name',
      expected: 'a DNS-1123 label',
      seen: '"team.a"',
    },
    {
      name: 'a NetworkPolicy name with "_"',
      object: np({}, { name: 'allow_all', namespace: 'loki' }),
      what: 'NetworkPolicy loki/allow_all',
      field: 'metadata.name',
      expected: 'a DNS-1123 subdomain',
      seen: '"allow_all"',
    },
    {
      name: 'generateName without a name',
      object: np({}, { generateName: 'np-', namespace: 'loki' }),
      what: 'NetworkPolicy (unnamed)',
      field: 'metadata.name',
      problem: 'missing',
      expected: 'generateName alone names nothing',
      seen: 'generateName "np-" and no name',
    },
    {
      name: 'a label value with a space',
      object: pod(undefined, undefined, { name: 'p', namespace: 'apps', labels: { app: 'my app' } }),
      what: 'Pod apps/p',
      field: 'metadata.labels["app"]',
      expected: 'a label value',
      seen: '"my app"',
    },
    {
      name: 'an annotation key with two slashes',
      object: pod(undefined, undefined, { name: 'p', namespace: 'apps', annotations: { 'a/b/c': 'x' } }),
      what: 'Pod apps/p',
      field: 'metadata.annotations["a/b/c"]',
      expected: 'an annotation key',
      seen: '"a/b/c"',
    },
    {
      name: 'status.podIP that is no IP',
      object: pod(undefined, { podIP: 'banana' }),
      what: 'Pod apps/p',
      field: 'status.podIP',
      expected: 'an IP address',
      seen: '"banana"',
    },
    {
      name: 'status.podIP with leading zeros',
      object: pod(undefined, { podIP: '10.244.01.10' }),
      what: 'Pod apps/p',
      field: 'status.podIP',
      expected: 'without leading zeros',
      seen: '"10.244.01.10"',
    },
    {
      name: 'a Pod without status.podIP',
      object: pod(undefined, null),
      what: 'Pod apps/p',
      field: 'status.podIP',
      problem: 'missing',
      expected: 'the pod’s IP in status.podIP',
      seen: 'no status',
    },
    {
      name: 'a Pending Pod (status without podIP)',
      object: pod(undefined, { phase: 'Pending' }),
      what: 'Pod apps/p',
      field: 'status.podIP',
      problem: 'missing',
      expected: 'places pods by IP',
      seen: 'a status without podIP',
    },
    {
      name: 'a Pod without containers',
      object: pod({ containers: [] }),
      what: 'Pod apps/p',
      field: 'spec.containers',
      expected: 'at least one container',
      seen: '[]',
    },
    {
      name: 'a container name with capitals',
      object: pod({ containers: [{ name: 'Web' }] }),
      what: 'Pod apps/p',
      field: 'spec.containers[0].name',
      expected: 'a DNS-1123 label',
      seen: '"Web"',
    },
    {
      name: 'two containers of one name',
      object: pod({ containers: [{ name: 'c' }, { name: 'c' }] }),
      what: 'Pod apps/p',
      field: 'spec.containers[1].name',
      expected: 'a name no other container or init container of the pod has',
      seen: '"c"',
    },
    {
      name: 'containerPort 0',
      object: pod({ containers: [{ name: 'c', ports: [{ containerPort: 0 }] }] }),
      what: 'Pod apps/p',
      field: 'spec.containers[0].ports[0].containerPort',
      expected: 'a port number from 1 to 65535',
      seen: '0',
    },
    {
      name: 'a container port name that is no IANA_SVC_NAME',
      object: pod({ containers: [{ name: 'c', ports: [{ name: 'http_metrics', containerPort: 80 }] }] }),
      what: 'Pod apps/p',
      field: 'spec.containers[0].ports[0].name',
      expected: 'IANA_SVC_NAME',
      seen: '"http_metrics"',
    },
    {
      name: 'two ports of one name in a container',
      object: pod({
        containers: [
          {
            name: 'c',
            ports: [
              { name: 'web', containerPort: 80 },
              { name: 'web', containerPort: 81 },
            ],
          },
        ],
      }),
      what: 'Pod apps/p',
      field: 'spec.containers[0].ports[1].name',
      expected: 'a port name no other port of the container has',
      seen: '"web"',
    },
    {
      name: 'a container port protocol in lower case',
      object: pod({ containers: [{ name: 'c', ports: [{ containerPort: 80, protocol: 'tcp' }] }] }),
      what: 'Pod apps/p',
      field: 'spec.containers[0].ports[0].protocol',
      expected: 'one of TCP, UDP, SCTP',
      seen: '"tcp"',
    },
    {
      name: 'a serviceAccountName with capitals',
      object: pod({ containers: [{ name: 'c' }], serviceAccountName: 'Loki' }),
      what: 'Pod apps/p',
      field: 'spec.serviceAccountName',
      expected: 'a DNS-1123 subdomain',
      seen: '"Loki"',
    },
    {
      name: 'a PeerAuthentication mode that does not exist',
      object: {
        apiVersion: 'security.istio.io/v1',
        kind: 'PeerAuthentication',
        metadata: { name: 'pa', namespace: 'loki' },
        spec: { mtls: { mode: 'STRICTER' } },
      },
      what: 'PeerAuthentication loki/pa',
      field: 'spec.mtls.mode',
      expected: 'one of UNSET, DISABLE, PERMISSIVE, STRICT',
      seen: '"STRICTER"',
    },
    {
      name: 'portLevelMtls without a selector (the CRD’s rule)',
      object: {
        apiVersion: 'security.istio.io/v1',
        kind: 'PeerAuthentication',
        metadata: { name: 'pa', namespace: 'loki' },
        spec: { portLevelMtls: { '3100': { mode: 'DISABLE' } } },
      },
      what: 'PeerAuthentication loki/pa',
      field: 'spec.portLevelMtls',
      expected: 'portLevelMtls only with a spec.selector',
      seen: '{"3100":{"mode":"DISABLE"}}',
    },
    {
      name: 'an empty portLevelMtls (istiod: at least one element, if defined)',
      object: {
        apiVersion: 'security.istio.io/v1',
        kind: 'PeerAuthentication',
        metadata: { name: 'pa', namespace: 'loki' },
        spec: { selector: { matchLabels: { app: 'loki' } }, portLevelMtls: {} },
      },
      what: 'PeerAuthentication loki/pa',
      field: 'spec.portLevelMtls',
      expected: 'at least one port, if portLevelMtls is given',
      seen: '{}',
    },
    {
      name: 'a creationTimestamp that is not a time',
      object: {
        apiVersion: 'security.istio.io/v1',
        kind: 'PeerAuthentication',
        metadata: { name: 'pa', namespace: 'loki', creationTimestamp: 'yesterday' },
      },
      what: 'PeerAuthentication loki/pa',
      field: 'metadata.creationTimestamp',
      expected: 'an RFC 3339 time',
      seen: '"yesterday"',
    },
    {
      name: 'an AuthorizationPolicy with both selector and targetRefs',
      object: {
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'ap', namespace: 'loki' },
        spec: { selector: { matchLabels: { app: 'loki' } }, targetRefs: [{ kind: 'Service', name: 'loki' }] },
      },
      what: 'AuthorizationPolicy loki/ap',
      field: 'spec.targetRefs',
      expected: 'only one of selector, targetRef and targetRefs',
      seen: 'selector and targetRefs',
    },
    {
      name: 'serviceAccounts together with principals',
      object: {
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'ap', namespace: 'loki' },
        spec: { rules: [{ from: [{ source: { serviceAccounts: ['a'], principals: ['b'] } }] }] },
      },
      what: 'AuthorizationPolicy loki/ap',
      field: 'spec.rules[0].from[0].source',
      expected: 'serviceAccounts or notServiceAccounts without principals or namespaces',
      seen: '{"serviceAccounts":["a"],"principals":["b"]}',
    },
    {
      name: 'a condition without a key',
      object: {
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'ap', namespace: 'loki' },
        spec: { rules: [{ when: [{ values: ['x'] }] }] },
      },
      what: 'AuthorizationPolicy loki/ap',
      field: 'spec.rules[0].when[0].key',
      problem: 'missing',
      expected: 'a key',
      seen: 'nothing',
    },
    {
      name: 'an action that does not exist',
      object: {
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'ap', namespace: 'loki' },
        spec: { action: 'REJECT' },
      },
      what: 'AuthorizationPolicy loki/ap',
      field: 'spec.action',
      expected: 'one of ALLOW, DENY, AUDIT, CUSTOM',
      seen: '"REJECT"',
    },
  ])('refuses $name', check);

  it('refuses a host-network Pod without status.podIP too: it is a source at its node’s address, which ipBlocks judge', () => {
    const d = dir({
      'p.json': JSON.stringify(pod({ containers: [{ name: 'c' }], hostNetwork: true }, null)),
    });
    expect(fail([d]).message).toContain('missing status.podIP');
  });

  it('refuses a missing apiVersion and one the API server does not serve; reads another API’s kind of the same name as ignored', () => {
    const { e: missing, file } = refuse({
      kind: 'NetworkPolicy',
      metadata: { name: 'np', namespace: 'loki' },
    });
    expect(missing.message).toBe(`${file}: NetworkPolicy loki/np: missing apiVersion`);
    expect(missing.details.expected).toBe('apiVersion: networking.k8s.io/v1');
    const { e: old } = refuse({ ...np({}), apiVersion: 'extensions/v1beta1' });
    expect(old.message).toContain('NetworkPolicy loki/np: invalid apiVersion');
    expect(old.details).toMatchObject({ expected: 'networking.k8s.io/v1', seen: 'extensions/v1beta1' });
    const d = dir({
      'calico.json': JSON.stringify({ ...np({ selector: 'all()' }), apiVersion: 'projectcalico.org/v3' }),
      'pa.json': JSON.stringify({
        apiVersion: 'security.istio.io/v1beta1',
        kind: 'PeerAuthentication',
        metadata: { name: 'pa', namespace: 'x' },
      }),
    });
    const r = readManifests([d]);
    expect(r.ignored).toEqual({ 'NetworkPolicy (projectcalico.org/v3)': 1 });
    expect(r.state.peerAuthentications).toEqual([{ namespace: 'x', name: 'pa', mode: 'UNSET' }]);
  });
  it('keeps what the mesh layer reads of a PeerAuthentication: portLevelMtls by port number, an empty selector, creationTimestamp', () => {
    const d = dir({
      'pa.json': JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'security.istio.io/v1',
            kind: 'PeerAuthentication',
            metadata: { name: 'w', namespace: 'x', creationTimestamp: '2026-11-30T10:00:00Z' },
            spec: {
              selector: { matchLabels: { app: 'a' } },
              portLevelMtls: { '9443': { mode: 'PERMISSIVE' }, '80': {} },
            },
          },
          {
            apiVersion: 'security.istio.io/v1',
            kind: 'PeerAuthentication',
            metadata: { name: 'n', namespace: 'x' },
            spec: { selector: {} },
          },
        ],
      }),
    });
    expect(readManifests([d]).state.peerAuthentications).toEqual([
      {
        namespace: 'x',
        name: 'w',
        mode: 'UNSET',
        selector: { matchLabels: { app: 'a' } },
        portLevelMtls: { 80: 'UNSET', 9443: 'PERMISSIVE' },
        creationTimestamp: '2026-11-30T10:00:00Z',
      },
      { namespace: 'x', name: 'n', mode: 'UNSET', selector: {} },
    ]);
  });
});

describe('duplicates', () => {
  const podYaml = (ns: string | undefined, ip: string) =>
    `apiVersion: v1\nkind: Pod\nmetadata: {name: web${ns ? `, namespace: ${ns}` : ''}}\nspec: {containers: [{name: c}]}\nstatus: {podIP: ${ip}}\n`;

  it('refuses the same object twice, naming both places; a Pod without namespace is in default', () => {
    const d = dir({
      'a.yaml': podYaml(undefined, '10.0.0.1'),
      'b.yaml': `---\n${podYaml('default', '10.0.0.2')}`,
    });
    const e = fail([d]);
    expect(e.message).toBe(`${path.join(d, 'b.yaml')}: Pod default/web is defined twice`);
    expect(e.details.seen).toBe(`${path.join(d, 'a.yaml')} and ${path.join(d, 'b.yaml')}`);
    expect(e.details.fix).toContain('an object without metadata.namespace is in namespace default');
  });

  it('takes an empty metadata.namespace as none (namespace default)', () => {
    const d = dir({ 'a.yaml': podYaml(undefined, '10.0.0.1'), 'b.yaml': podYaml('""', '10.0.0.2') });
    expect(fail([d]).message).toBe(`${path.join(d, 'b.yaml')}: Pod default/web is defined twice`);
  });

  it('names documents and List items in one file', () => {
    const d = dir({
      'm.yaml': `${podYaml('apps', '10.0.0.1')}---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: apps}}\n- {apiVersion: v1, kind: Namespace, metadata: {name: apps}}\n`,
    });
    const e = fail([d]);
    const f = path.join(d, 'm.yaml');
    expect(e.message).toBe(`${f} (document 2, items[1]): Namespace apps is defined twice`);
    expect(e.details.seen).toBe(`${f} (document 2, items[0]) and ${f} (document 2, items[1])`);
  });

  it('reads a file once when it is given twice, or given and also inside a given folder (compared by real path)', () => {
    const d = dir({ 'a.yaml': podYaml('apps', '10.0.0.1') });
    const f = path.join(d, 'a.yaml');
    symlinkSync(f, path.join(d, 'link.yaml'));
    const r = readManifests([f, d, f, path.join(d, '.', 'a.yaml')]);
    expect(r.files).toEqual([f]);
    expect(r.state.pods).toHaveLength(1);
  });
});

describe('inputs that used to crash or hang', () => {
  it('refuses a List with an empty or null entry', () => {
    const d = dir({
      'l.yaml':
        'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: a}}\n-\n',
    });
    const e = fail([d]);
    expect(e.message).toBe(`${path.join(d, 'l.yaml')} (items[1]): an empty entry in List items`);
    expect(e.details.seen).toBe('null');
    const d2 = dir({ 'l.json': '{"apiVersion":"v1","kind":"List","items":[{}]}' });
    expect(fail([d2]).message).toBe(`${path.join(d2, 'l.json')} (items[0]): an empty entry in List items`);
  });

  it('refuses a folder with a symlink loop, a link to itself or a dangling link, naming the path', () => {
    const loop = dir({});
    mkdirSync(path.join(loop, 'a'));
    symlinkSync('..', path.join(loop, 'a', 'up'));
    const e1 = fail([loop]);
    expect(e1.message).toBe(`${path.join(loop, 'a', 'up')}: a symlink loop`);
    const self = dir({});
    symlinkSync('self.yaml', path.join(self, 'self.yaml'));
    const e2 = fail([self]);
    expect(e2.message).toBe(`${path.join(self, 'self.yaml')}: a symlink loop`);
    const dangling = dir({});
    symlinkSync('/nonexistent/pods.yaml', path.join(dangling, 'pods.yaml'));
    const e3 = fail([dangling]);
    expect(e3.message).toBe(`${path.join(dangling, 'pods.yaml')}: a dangling symlink`);
    expect(e3.details.seen).toBe('a symbolic link to /nonexistent/pods.yaml, which does not exist');
    expect(fail([path.join(dangling, 'pods.yaml')]).message).toContain('a dangling symlink');
  });

  it('refuses a device given as a file (it would be read without end)', () => {
    expect(fail(['/dev/zero']).message).toBe('/dev/zero: not a file or folder');
  });

  it('refuses YAML aliases that expand without bound, and JSON with a key twice', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++)
      bomb.push(
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(97 + i)}`)
          .join(', ')}]`,
      );
    const d = dir({ 'bomb.yaml': `${bomb.join('\n')}\n` });
    expect(fail([d]).message).toBe(`${path.join(d, 'bomb.yaml')}: cannot be read as YAML`);
    const j = dir({
      'np.json':
        '{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",\n"metadata":{"name":"a","name":"b"}}',
    });
    const e = fail([j]);
    expect(e.message).toBe(`${path.join(j, 'np.json')}: line 2: the key "name" appears twice in one object`);
  });
});

/** `kubectl get pods -n loki -o yaml --show-managed-fields` of a StatefulSet pod, shape per k8s.io/api v0.34.10–v0.36.3 core/v1 (values made up). */
const KUBECTL_GET_PODS = `apiVersion: v1
items:
- apiVersion: v1
  kind: Pod
  metadata:
    annotations:
      ambient.istio.io/redirection: enabled
    creationTimestamp: "2026-01-01T10:00:00Z"
    generateName: loki-
    labels:
      app: loki
      apps.kubernetes.io/pod-index: "0"
      controller-revision-hash: loki-5d8f7c9b6
      statefulset.kubernetes.io/pod-name: loki-0
    managedFields:
    - apiVersion: v1
      fieldsType: FieldsV1
      fieldsV1:
        f:metadata: {f:generateName: {}}
      manager: kube-controller-manager
      operation: Update
      time: "2026-01-01T10:00:00Z"
    name: loki-0
    namespace: loki
    ownerReferences:
    - apiVersion: apps/v1
      blockOwnerDeletion: true
      controller: true
      kind: StatefulSet
      name: loki
      uid: 0c6a1f2e-1111-2222-3333-444455556666
    resourceVersion: "12345"
    uid: 9f1e2d3c-aaaa-bbbb-cccc-ddddeeeeffff
  spec:
    containers:
    - args: [netexec, --http-port=3100]
      image: registry.k8s.io/e2e-test-images/agnhost:2.53@sha256:99c6b4bb4a1e1df3f0b3752168c89358794d02258ebebc26bf21c29399011a85
      imagePullPolicy: IfNotPresent
      name: loki
      ports:
      - containerPort: 3100
        name: http-metrics
        protocol: TCP
      readinessProbe:
        failureThreshold: 3
        httpGet: {path: /ready, port: http-metrics, scheme: HTTP}
        periodSeconds: 10
        successThreshold: 1
        timeoutSeconds: 1
      resources: {}
      securityContext: {readOnlyRootFilesystem: true}
      terminationMessagePath: /dev/termination-log
      terminationMessagePolicy: File
      volumeMounts:
      - mountPath: /var/run/secrets/kubernetes.io/serviceaccount
        name: kube-api-access-abcde
        readOnly: true
    dnsPolicy: ClusterFirst
    enableServiceLinks: true
    hostname: loki-0
    nodeName: ambient-worker
    preemptionPolicy: PreemptLowerPriority
    priority: 0
    restartPolicy: Always
    schedulerName: default-scheduler
    securityContext: {fsGroup: 10001}
    serviceAccount: loki
    serviceAccountName: loki
    subdomain: loki-headless
    terminationGracePeriodSeconds: 30
    tolerations:
    - {effect: NoExecute, key: node.kubernetes.io/not-ready, operator: Exists, tolerationSeconds: 300}
    volumes:
    - name: kube-api-access-abcde
      projected:
        defaultMode: 420
        sources:
        - serviceAccountToken: {expirationSeconds: 3607, path: token}
  status:
    allocatedResources: {}
    conditions:
    - {lastProbeTime: null, lastTransitionTime: "2026-01-01T10:00:05Z", status: "True", type: Ready}
    containerStatuses:
    - containerID: containerd://0123abcd
      image: registry.k8s.io/e2e-test-images/agnhost:2.53@sha256:99c6b4bb4a1e1df3f0b3752168c89358794d02258ebebc26bf21c29399011a85
      imageID: registry.k8s.io/e2e-test-images/agnhost@sha256:99c6b4bb4a1e1df3f0b3752168c89358794d02258ebebc26bf21c29399011a85
      lastState: {}
      name: loki
      ready: true
      restartCount: 0
      started: true
      state:
        running: {startedAt: "2026-01-01T10:00:03Z"}
    hostIP: 172.18.0.3
    hostIPs:
    - ip: 172.18.0.3
    observedGeneration: 1
    phase: Running
    podIP: 10.244.2.20
    podIPs:
    - ip: 10.244.2.20
    qosClass: BestEffort
    startTime: "2026-01-01T10:00:00Z"
kind: List
metadata:
  resourceVersion: ""
`;
