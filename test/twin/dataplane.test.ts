/**
 * Cases for the twin's dataplane, each derived by hand from the upstream code cited in its comment
 * (see the header of dataplane.ts for the tags). The fixture cluster:
 *
 *   mesh  (istio.io/dataplane-mode=ambient)  client 10.244.1.10 sa=client app=client   enrolled
 *                                            other  10.244.1.11 sa unset  app=other    enrolled
 *                                            server 10.244.2.20 sa=server app=server   enrolled, :8080 (http) :9090
 *   plain (no label)                         legacy 10.244.1.30 sa unset  app=legacy
 *                                            web    10.244.2.40 sa unset  app=web      :8080 (http)
 */
import { describe, expect, it } from 'vitest';
import {
  decide,
  identityOf,
  isEnrolled,
  shouldEnroll,
  type AuthorizationPolicy,
  type Namespace,
  type NetworkPolicy,
  type PeerAuthentication,
  type Pod,
  type TwinObjects,
  type ZtunnelPolicy,
  upstreamConversions,
} from './dataplane.ts';

const ENROLLED = { 'ambient.istio.io/redirection': 'enabled' };

function pod(
  ns: string,
  name: string,
  ip: string,
  opts: {
    sa?: string;
    labels?: Record<string, string>;
    ann?: Record<string, string>;
    ports?: [number, string?][];
  } = {},
): Pod {
  return {
    metadata: { name, namespace: ns, labels: opts.labels ?? {}, annotations: opts.ann ?? {} },
    spec: {
      ...(opts.sa ? { serviceAccountName: opts.sa } : {}),
      nodeName: ip.startsWith('10.244.1.') ? 'kind-worker' : 'kind-worker2',
      containers: [
        {
          name: 'app',
          ports: (opts.ports ?? []).map(([p, n]) => ({
            containerPort: p,
            protocol: 'TCP',
            ...(n ? { name: n } : {}),
          })),
        },
      ],
    },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], hostIP: '172.18.0.2' },
  };
}

const IP = {
  client: '10.244.1.10',
  other: '10.244.1.11',
  server: '10.244.2.20',
  legacy: '10.244.1.30',
  web: '10.244.2.40',
};

function cluster(
  extra: {
    networkPolicies?: NetworkPolicy[];
    peerAuthentications?: PeerAuthentication[];
    authorizationPolicies?: AuthorizationPolicy[];
    pods?: Pod[];
  } = {},
): TwinObjects {
  const namespaces: Namespace[] = [
    { metadata: { name: 'mesh', labels: { 'istio.io/dataplane-mode': 'ambient' } } },
    { metadata: { name: 'plain' } },
    { metadata: { name: 'istio-system' } },
    { metadata: { name: 'kube-system' } },
  ];
  return {
    namespaces,
    pods: [
      pod('mesh', 'client', IP.client, { sa: 'client', labels: { app: 'client' }, ann: ENROLLED }),
      pod('mesh', 'other', IP.other, { labels: { app: 'other' }, ann: ENROLLED }),
      pod('mesh', 'server', IP.server, {
        sa: 'server',
        labels: { app: 'server' },
        ann: ENROLLED,
        ports: [[8080, 'http'], [9090]],
      }),
      pod('plain', 'legacy', IP.legacy, { labels: { app: 'legacy' } }),
      pod('plain', 'web', IP.web, { labels: { app: 'web' }, ports: [[8080, 'http']] }),
      ...(extra.pods ?? []),
    ],
    networkPolicies: extra.networkPolicies ?? [],
    peerAuthentications: extra.peerAuthentications ?? [],
    authorizationPolicies: extra.authorizationPolicies ?? [],
    rootNamespace: 'istio-system',
  };
}

const from = (ns: string, name: string) => ({ namespace: ns, name });
const client = from('mesh', 'client');
const other = from('mesh', 'other');
const legacy = from('plain', 'legacy');

const netpol = (ns: string, name: string, spec: NetworkPolicy['spec']): NetworkPolicy => ({
  metadata: { name, namespace: ns },
  spec,
});
const pa = (
  ns: string,
  name: string,
  spec: PeerAuthentication['spec'],
  created?: string,
): PeerAuthentication => ({
  metadata: { name, namespace: ns, ...(created ? { creationTimestamp: created } : {}) },
  spec,
});
const ap = (ns: string, name: string, spec: AuthorizationPolicy['spec'], ann?: Record<string, string>) => ({
  metadata: { name, namespace: ns, ...(ann ? { annotations: ann } : {}) },
  spec,
});

// The four curl results, as the brief and upstream define them.
const CONNECTED = { outcome: 'connected', curlExit: 0, seconds: 0 };
const RESET = { outcome: 'reset', curlExit: 56, seconds: 0 };
const CURL_TIMEOUT = { outcome: 'timeout', curlExit: 28, seconds: 5 };
const ZTUNNEL_TIMEOUT = { outcome: 'timeout', curlExit: 56, seconds: 10 };
const REFUSED = { outcome: 'refused', curlExit: 7, seconds: 0 };

describe('1. enrollment (istio-cni)', () => {
  const ns = (labels: Record<string, string> = {}, name = 'app'): Namespace => ({
    metadata: { name, labels },
  });
  const p = (labels: Record<string, string> = {}, extra: Partial<Pod> = {}, namespace = 'app'): Pod => ({
    metadata: { name: 'p', namespace, labels },
    ...extra,
  });
  const AMBIENT = { 'istio.io/dataplane-mode': 'ambient' };

  // cni/pkg/util/enablement_selector.go Matches + the chart's default enablementSelectors.
  it('enrolls pods of an ambient namespace, and lets a pod label none opt out', () => {
    expect(shouldEnroll(ns(AMBIENT), p())).toBe(true);
    expect(shouldEnroll(ns(AMBIENT), p({ 'istio.io/dataplane-mode': 'none' }))).toBe(false);
    expect(shouldEnroll(ns(), p())).toBe(false);
  });

  // First default selector: pod label ambient, empty namespaceSelector = every namespace.
  it('enrolls a pod labelled ambient whatever its namespace says', () => {
    expect(shouldEnroll(ns(), p(AMBIENT))).toBe(true);
    expect(shouldEnroll(ns({ 'istio.io/dataplane-mode': 'none' }), p(AMBIENT))).toBe(true);
  });

  it('never enrolls sidecar-injected, host-network, excluded-namespace, ztunnel or finished pods', () => {
    // podHasSidecar (enablement_selector.go)
    expect(
      shouldEnroll(ns(AMBIENT), {
        ...p(),
        metadata: { ...p().metadata, annotations: { 'sidecar.istio.io/status': '{}' } },
      }),
    ).toBe(false);
    // no netns of its own (podcgroupns_linux.go ignores the host netns)
    expect(shouldEnroll(ns(AMBIENT), p({}, { spec: { hostNetwork: true } }))).toBe(false);
    // plugin.go ExcludeNamespaces, default [kube-system]
    expect(shouldEnroll(ns(AMBIENT, 'kube-system'), p(AMBIENT, {}, 'kube-system'))).toBe(false);
    expect(
      shouldEnroll(ns(AMBIENT, 'kube-system'), p(AMBIENT, {}, 'kube-system'), { excludeNamespaces: [] }),
    ).toBe(true);
    // podutil.go IsZtunnelPod
    expect(shouldEnroll(ns(AMBIENT, 'istio-system'), p({ app: 'ztunnel' }, {}, 'istio-system'))).toBe(false);
    // kube.CheckPodTerminal
    expect(shouldEnroll(ns(AMBIENT), p({}, { status: { phase: 'Succeeded' } }))).toBe(false);
  });

  // workloads.go setTunnelProtocol: only the annotation istio-cni writes makes a pod HBONE, not the label.
  it('counts a pod as enrolled only by the annotation istio-cni sets', () => {
    expect(isEnrolled(pod('mesh', 'x', '10.244.1.99', { ann: ENROLLED }))).toBe(true);
    expect(isEnrolled(pod('mesh', 'x', '10.244.1.99', { labels: AMBIENT }))).toBe(false);
    const objects = cluster({ pods: [pod('mesh', 'unannotated', '10.244.1.99', { labels: { app: 'u' } })] });
    expect(decide(objects, { from: from('mesh', 'unannotated'), toIp: IP.server, port: 8080 })).toMatchObject(
      {
        ...CONNECTED,
        hbone: false,
        judgedPort: 8080,
      },
    );
  });
});

describe('baseline paths (no policy)', () => {
  const objects = cluster();

  // outbound.rs build_request: HBONE workload → <pod IP>:15008; the source presents its own identity.
  it('meshed → meshed travels HBONE to 15008 with the source identity', () => {
    expect(decide(objects, { from: client, toIp: IP.server, port: 8080 })).toMatchObject({
      ...CONNECTED,
      hbone: true,
      judgedPort: 15008,
      sourceIdentity: 'spiffe://cluster.local/ns/mesh/sa/client',
    });
    // service account unset → "default"
    expect(decide(objects, { from: other, toIp: IP.server, port: 8080 }).sourceIdentity).toBe(
      'spiffe://cluster.local/ns/mesh/sa/default',
    );
    expect(identityOf(pod('a', 'b', '1.2.3.4'))).toBe('spiffe://cluster.local/ns/a/sa/default');
  });

  // inbound_passthrough.rs: plaintext arrives without identity.
  it('plain → meshed is plaintext into ztunnel, without identity', () => {
    const d = decide(objects, { from: legacy, toIp: IP.server, port: 8080 });
    expect(d).toMatchObject({ ...CONNECTED, hbone: false, judgedPort: 8080 });
    expect(d.sourceIdentity).toBeUndefined();
  });

  it('meshed → plain is ztunnel TCP passthrough on the app port; plain → plain is direct', () => {
    expect(decide(objects, { from: client, toIp: IP.web, port: 8080 })).toMatchObject({
      ...CONNECTED,
      hbone: false,
      judgedPort: 8080,
    });
    expect(decide(objects, { from: legacy, toIp: IP.web, port: 8080 })).toMatchObject({
      ...CONNECTED,
      hbone: false,
    });
  });
});

describe('2. NetworkPolicy (kube-network-policies v0.8.0)', () => {
  const serverOnly8080 = netpol('mesh', 'server-8080', {
    podSelector: { matchLabels: { app: 'server' } },
    policyTypes: ['Ingress'],
    ingress: [{ ports: [{ protocol: 'TCP', port: 8080 }] }],
  });

  // The 15008 trap: ztunnel's HBONE connect is what the node sees; pool.rs turns the dropped SYN into
  // "maybe a NetworkPolicy is blocking HBONE port 15008" after CONNECTION_TIMEOUT (proxy.rs), and curl, whose
  // connect ztunnel had already accepted, gets its socket closed: exit 56 after 10 s.
  it('an ingress policy admitting only the app port drops meshed clients (10 s, exit 56) but not plain ones', () => {
    const objects = cluster({ networkPolicies: [serverOnly8080] });
    expect(decide(objects, { from: client, toIp: IP.server, port: 8080 })).toMatchObject({
      ...ZTUNNEL_TIMEOUT,
      hbone: true,
      judgedPort: 15008,
    });
    expect(decide(objects, { from: legacy, toIp: IP.server, port: 8080 })).toMatchObject({
      ...CONNECTED,
      judgedPort: 8080,
    });
  });

  it('the same trap on the egress side of the meshed client', () => {
    const objects = cluster({
      networkPolicies: [
        netpol('mesh', 'client-egress', {
          podSelector: { matchLabels: { app: 'client' } },
          policyTypes: ['Egress'],
          egress: [{ ports: [{ port: 8080 }] }],
        }),
      ],
    });
    expect(decide(objects, { from: client, toIp: IP.server, port: 8080 })).toMatchObject(ZTUNNEL_TIMEOUT);
    // to a non-mesh destination ztunnel passes through on the app port, which egress allows
    expect(decide(objects, { from: client, toIp: IP.web, port: 8080 })).toMatchObject(CONNECTED);
  });

  // Plaintext SYN dropped on the node: curl's own connect times out (exit 28 at --connect-timeout 5).
  it('admitting only 15008 lets meshed clients in and times plain ones out at 5 s (exit 28)', () => {
    const objects = cluster({
      networkPolicies: [
        netpol('mesh', 'server-hbone', {
          podSelector: { matchLabels: { app: 'server' } },
          ingress: [{ ports: [{ port: 15008 }] }],
        }),
      ],
    });
    expect(decide(objects, { from: client, toIp: IP.server, port: 8080 })).toMatchObject(CONNECTED);
    expect(decide(objects, { from: legacy, toIp: IP.server, port: 8080 })).toMatchObject(CURL_TIMEOUT);
  });

  // HBONE leaves the source pod's netns from the source pod's IP (in-pod socket factory; outbound.rs
  // freebind_connect(None, ...)), so ipBlock and podSelector peers see the real client.
  it('source IP preservation: ipBlock /32 and podSelector on 15008 single out one meshed client', () => {
    for (const peer of [
      { ipBlock: { cidr: `${IP.client}/32` } },
      { podSelector: { matchLabels: { app: 'client' } } },
    ]) {
      const objects = cluster({
        networkPolicies: [
          netpol('mesh', 'from-client', {
            podSelector: { matchLabels: { app: 'server' } },
            ingress: [{ from: [peer], ports: [{ port: 15008 }] }],
          }),
        ],
      });
      expect(decide(objects, { from: client, toIp: IP.server, port: 8080 })).toMatchObject(CONNECTED);
      expect(decide(objects, { from: other, toIp: IP.server, port: 8080 })).toMatchObject(ZTUNNEL_TIMEOUT);
    }
  });

  // A meshed client to a non-mesh destination: ztunnel's passthrough connect is dropped → same 10 s close.
  it('a deny-all on a plain destination closes a meshed client after 10 s and times out a plain one', () => {
    const objects = cluster({
      networkPolicies: [netpol('plain', 'deny-all', { podSelector: {}, policyTypes: ['Ingress'] })],
    });
    expect(decide(objects, { from: client, toIp: IP.web, port: 8080 })).toMatchObject({
      ...ZTUNNEL_TIMEOUT,
      judgedPort: 8080,
      hbone: false,
    });
    expect(decide(objects, { from: legacy, toIp: IP.web, port: 8080 })).toMatchObject(CURL_TIMEOUT);
  });

  // evaluatePorts: a named port resolves in the destination pod's containers; 15008 is nobody's "http".
  it('a named port matches the app port of plain clients but never 15008', () => {
    const named = (ns: string, app: string) =>
      netpol(ns, 'http-only', {
        podSelector: { matchLabels: { app } },
        ingress: [{ ports: [{ port: 'http' }] }],
      });
    const objects = cluster({ networkPolicies: [named('mesh', 'server'), named('plain', 'web')] });
    expect(decide(objects, { from: legacy, toIp: IP.web, port: 8080 })).toMatchObject(CONNECTED);
    expect(decide(objects, { from: legacy, toIp: IP.server, port: 8080 })).toMatchObject(CONNECTED);
    expect(decide(objects, { from: legacy, toIp: IP.server, port: 9090 })).toMatchObject(CURL_TIMEOUT);
    expect(decide(objects, { from: client, toIp: IP.server, port: 8080 })).toMatchObject(ZTUNNEL_TIMEOUT);
  });

  // evaluatePorts: `port > start && port <= endPort`, with the start itself matched by equality.
  it('a port range covering 15008 admits HBONE', () => {
    const objects = cluster({
      networkPolicies: [
        netpol('mesh', 'range', {
          podSelector: { matchLabels: { app: 'server' } },
          ingress: [{ ports: [{ port: 15000, endPort: 15010 }] }],
        }),
      ],
    });
    expect(decide(objects, { from: client, toIp: IP.server, port: 8080 })).toMatchObject(CONNECTED);
  });

  // evaluateSelectors: namespaceSelector lists namespaces by label; kubernetes.io/metadata.name is always there.
  it('namespaceSelector on the automatic kubernetes.io/metadata.name label', () => {
    const objects = cluster({
      networkPolicies: [
        netpol('plain', 'from-mesh', {
          podSelector: { matchLabels: { app: 'web' } },
          ingress: [
            { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'mesh' } } }] },
          ],
        }),
      ],
    });
    expect(decide(objects, { from: client, toIp: IP.web, port: 8080 })).toMatchObject(CONNECTED);
    expect(decide(objects, { from: legacy, toIp: IP.web, port: 8080 })).toMatchObject(CURL_TIMEOUT);
  });

  // types.go policyTypes defaulting: a policy with egress rules and no policyTypes is Ingress+Egress, so it
  // also isolates the pod for ingress (it has no ingress rules).
  it('an egress-only policy written without policyTypes also blocks ingress', () => {
    const objects = cluster({
      networkPolicies: [
        netpol('plain', 'egress-dns', {
          podSelector: { matchLabels: { app: 'web' } },
          egress: [{ ports: [{ port: 53 }] }],
        }),
      ],
    });
    expect(decide(objects, { from: legacy, toIp: IP.web, port: 8080 })).toMatchObject(CURL_TIMEOUT);
  });
});

describe('3. mesh policy at an enrolled destination (istiod conversion + ztunnel rbac.rs)', () => {
  describe('PeerAuthentication', () => {
    // policies.go DefaultPolicy + authorization.go convertedSelectorPeerAuthentications: STRICT attaches
    // istio-system/istio_converted_static_strict, a DENY on notPrincipals presence (no identity).
    it('namespace STRICT resets plaintext sources quickly (exit 56) and lets mTLS in', () => {
      const objects = cluster({ peerAuthentications: [pa('mesh', 'strict', { mtls: { mode: 'STRICT' } })] });
      const d = decide(objects, { from: legacy, toIp: IP.server, port: 8080 });
      expect(d).toMatchObject(RESET);
      expect(d.why).toContain('istio-system/istio_converted_static_strict');
      expect(decide(objects, { from: client, toIp: IP.server, port: 8080 })).toMatchObject(CONNECTED);
    });

    it('mesh-wide STRICT in the root namespace does the same, and never touches non-mesh destinations', () => {
      const objects = cluster({
        peerAuthentications: [pa('istio-system', 'default', { mtls: { mode: 'STRICT' } })],
      });
      expect(decide(objects, { from: legacy, toIp: IP.server, port: 8080 })).toMatchObject(RESET);
      expect(decide(objects, { from: legacy, toIp: IP.web, port: 8080 })).toMatchObject(CONNECTED);
    });

    it('a namespace PERMISSIVE (or DISABLE, ignored in ambient) overrides mesh STRICT', () => {
      for (const mode of ['PERMISSIVE', 'DISABLE']) {
        const objects = cluster({
          peerAuthentications: [
            pa('istio-system', 'default', { mtls: { mode: 'STRICT' } }),
            pa('mesh', 'relaxed', { mtls: { mode } }),
          ],
        });
        expect(decide(objects, { from: legacy, toIp: IP.server, port: 8080 })).toMatchObject(CONNECTED);
      }
    });

    it('the oldest namespace policy wins', () => {
      const objects = cluster({
        peerAuthentications: [
          pa('mesh', 'newer', { mtls: { mode: 'PERMISSIVE' } }, '2026-01-02T00:00:00Z'),
          pa('mesh', 'older', { mtls: { mode: 'STRICT' } }, '2026-01-01T00:00:00Z'),
        ],
      });
      expect(decide(objects, { from: legacy, toIp: IP.server, port: 8080 })).toMatchObject(RESET);
    });

    // convertedSelectorPeerAuthentications (Unset branch, effective STRICT, a PERMISSIVE port) references
    // mesh/converted_peer_authentication_<name> instead of the static policy; convertPeerAuthentication builds
    // one DENY group: notDestinationPorts [8080] AND notPrincipals presence (shouldMergeStrict, root STRICT).
    it('portLevelMtls PERMISSIVE exception under mesh STRICT: plaintext reaches 8080 only', () => {
      const objects = cluster({
        peerAuthentications: [
          pa('istio-system', 'default', { mtls: { mode: 'STRICT' } }),
          pa('mesh', 'server-8080', {
            selector: { matchLabels: { app: 'server' } },
            portLevelMtls: { '8080': { mode: 'PERMISSIVE' } },
          }),
        ],
      });
      expect(decide(objects, { from: legacy, toIp: IP.server, port: 8080 })).toMatchObject(CONNECTED);
      const d = decide(objects, { from: legacy, toIp: IP.server, port: 9090 });
      expect(d).toMatchObject(RESET);
      expect(d.why).toContain('mesh/converted_peer_authentication_server-8080');
      expect(decide(objects, { from: client, toIp: IP.server, port: 9090 })).toMatchObject(CONNECTED);
    });

    it('workload STRICT with a PERMISSIVE port, no mesh policy: same exception', () => {
      const objects = cluster({
        peerAuthentications: [
          pa('mesh', 'server', {
            selector: { matchLabels: { app: 'server' } },
            mtls: { mode: 'STRICT' },
            portLevelMtls: { '8080': { mode: 'PERMISSIVE' } },
          }),
        ],
      });
      expect(decide(objects, { from: legacy, toIp: IP.server, port: 8080 })).toMatchObject(CONNECTED);
      expect(decide(objects, { from: legacy, toIp: IP.server, port: 9090 })).toMatchObject(RESET);
    });

    it('workload PERMISSIVE with a STRICT port locks only that port', () => {
      const objects = cluster({
        peerAuthentications: [
          pa('mesh', 'server', {
            selector: { matchLabels: { app: 'server' } },
            mtls: { mode: 'PERMISSIVE' },
            portLevelMtls: { '9090': { mode: 'STRICT' } },
          }),
        ],
      });
      expect(decide(objects, { from: legacy, toIp: IP.server, port: 8080 })).toMatchObject(CONNECTED);
      expect(decide(objects, { from: legacy, toIp: IP.server, port: 9090 })).toMatchObject(RESET);
    });

    // Upstream as written: in convertPeerAuthentication the "enforced by the parent" test is
    // `A || (B && C || D)`; D (mesh STRICT, no namespace policy) is not guarded by "workload mode unset", so the
    // STRICT port rule is skipped although the workload's PERMISSIVE overrides the mesh. The converted policy is
    // then empty (nil), the workload references a key istiod never sends, and ztunnel skips it (state.rs
    // "skipping unknown policy"): plaintext reaches the STRICT port. The twin reproduces this reading.
    // Upstream as written, second gap: a namespace policy without mtls (UNSET) makes convertPeerAuthentication
    // skip the PERMISSIVE port ("nsCfg != nil && !STRICT"), so no converted policy is sent, while
    // convertedSelectorPeerAuthentications (Unset branch, effective STRICT from the mesh) still swaps the static
    // STRICT policy for that missing key: every port takes plaintext.
    it('upstream quirk: an UNSET namespace policy turns a PERMISSIVE-port exception into no STRICT at all', () => {
      const objects = cluster({
        peerAuthentications: [
          pa('istio-system', 'default', { mtls: { mode: 'STRICT' } }),
          pa('mesh', 'ns-unset', {}),
          pa('mesh', 'server-8080', {
            selector: { matchLabels: { app: 'server' } },
            portLevelMtls: { '8080': { mode: 'PERMISSIVE' } },
          }),
        ],
      });
      expect(decide(objects, { from: legacy, toIp: IP.server, port: 9090 })).toMatchObject(CONNECTED);
    });

    // convertedSelectorPeerAuthentications' Unset branch looks only for PERMISSIVE ports, not DISABLE: the
    // static STRICT policy stays and the DISABLE port gets no exception.
    it('a DISABLE port under inherited STRICT is no exception', () => {
      const objects = cluster({
        peerAuthentications: [
          pa('mesh', 'strict', { mtls: { mode: 'STRICT' } }),
          pa('mesh', 'server-8080', {
            selector: { matchLabels: { app: 'server' } },
            portLevelMtls: { '8080': { mode: 'DISABLE' } },
          }),
        ],
      });
      expect(decide(objects, { from: legacy, toIp: IP.server, port: 8080 })).toMatchObject(RESET);
    });

    it('upstream quirk: workload PERMISSIVE + STRICT port under mesh STRICT leaves the port open', () => {
      const objects = cluster({
        peerAuthentications: [
          pa('istio-system', 'default', { mtls: { mode: 'STRICT' } }),
          pa('mesh', 'server', {
            selector: { matchLabels: { app: 'server' } },
            mtls: { mode: 'PERMISSIVE' },
            portLevelMtls: { '9090': { mode: 'STRICT' } },
          }),
        ],
      });
      expect(decide(objects, { from: legacy, toIp: IP.server, port: 9090 })).toMatchObject(CONNECTED);
    });
  });

  describe('AuthorizationPolicy', () => {
    const allowClient = ap('mesh', 'allow-client', {
      selector: { matchLabels: { app: 'server' } },
      action: 'ALLOW',
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/mesh/sa/client'] } }] }],
    });

    // rbac.rs: principals are compared with the peer identity minus "spiffe://"; plaintext has none.
    it('ALLOW by principal admits that identity and resets the others (exit 56, no wait)', () => {
      const objects = cluster({ authorizationPolicies: [allowClient] });
      expect(decide(objects, { from: client, toIp: IP.server, port: 8080 })).toMatchObject(CONNECTED);
      const d = decide(objects, { from: other, toIp: IP.server, port: 8080 });
      expect(d).toMatchObject(RESET);
      expect(d.why).toContain('allow policies exist, but none allowed');
      expect(decide(objects, { from: legacy, toIp: IP.server, port: 8080 })).toMatchObject(RESET);
    });

    // state.rs assert_rbac: "If there are any DENY policies that match the request, deny the request."
    it('DENY wins over a matching ALLOW', () => {
      const objects = cluster({
        authorizationPolicies: [
          allowClient,
          ap('mesh', 'deny-client', {
            action: 'DENY',
            rules: [{ from: [{ source: { principals: ['cluster.local/ns/mesh/sa/client'] } }] }],
          }),
        ],
      });
      const d = decide(objects, { from: client, toIp: IP.server, port: 8080 });
      expect(d).toMatchObject(RESET);
      expect(d.why).toContain('explicitly denied by: mesh/deny-client');
    });

    // authorization.go handleRule: "L7 policies never match for ALLOW" — the rule is dropped, leaving an
    // ALLOW policy that allows nothing.
    it('an ALLOW whose only rule has an L7 field allows nothing, yet other L4 rules still count', () => {
      const l7only = ap('mesh', 'get-only', {
        selector: { matchLabels: { app: 'server' } },
        rules: [{ to: [{ operation: { methods: ['GET'] } }] }],
      });
      expect(
        decide(cluster({ authorizationPolicies: [l7only] }), { from: client, toIp: IP.server, port: 8080 }),
      ).toMatchObject(RESET);
      const mixed = ap('mesh', 'mixed', {
        rules: [
          { from: [{ source: { namespaces: ['mesh'] } }], to: [{ operation: { paths: ['/x'] } }] },
          { from: [{ source: { principals: ['cluster.local/ns/mesh/sa/client'] } }] },
        ],
      });
      const objects = cluster({ authorizationPolicies: [mixed] });
      expect(decide(objects, { from: client, toIp: IP.server, port: 8080 })).toMatchObject(CONNECTED);
      expect(decide(objects, { from: other, toIp: IP.server, port: 8080 })).toMatchObject(RESET);
    });

    // handleRule keeps a DENY rule without its HTTP fields; ztunnel's matcher skips an empty match, so a DENY
    // clause made only of L7 fields matches nothing, while one that keeps an L4 field denies on it alone.
    it('DENY with HTTP fields: L7-only denies nothing, L7 + port denies the whole port', () => {
      const l7only = ap('mesh', 'deny-get', {
        action: 'DENY',
        rules: [{ to: [{ operation: { methods: ['GET'] } }] }],
      });
      expect(
        decide(cluster({ authorizationPolicies: [l7only] }), { from: client, toIp: IP.server, port: 8080 }),
      ).toMatchObject(CONNECTED);
      const withPort = ap('mesh', 'deny-get-8080', {
        action: 'DENY',
        rules: [{ to: [{ operation: { methods: ['GET'], ports: ['8080'] } }] }],
      });
      const objects = cluster({ authorizationPolicies: [withPort] });
      expect(decide(objects, { from: client, toIp: IP.server, port: 8080 })).toMatchObject(RESET);
      expect(decide(objects, { from: client, toIp: IP.server, port: 9090 })).toMatchObject(CONNECTED);
    });

    // convertAuthorizationPolicy: targetRef(s) are for waypoints; AUDIT is not for ztunnel;
    // policies.go: istio.io/dry-run policies are not sent.
    it('ignores targetRefs, AUDIT and dry-run policies', () => {
      const denyAll = { action: 'DENY', rules: [{}] };
      const objects = cluster({
        authorizationPolicies: [
          ap('mesh', 'waypoint', {
            ...denyAll,
            targetRefs: [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'wp' }],
          }),
          ap('mesh', 'audit', { ...denyAll, action: 'AUDIT' }),
          ap('mesh', 'dry', denyAll, { 'istio.io/dry-run': 'true' }),
        ],
      });
      expect(decide(objects, { from: client, toIp: IP.server, port: 8080 })).toMatchObject(CONNECTED);
    });

    // Scope GLOBAL (root namespace, no selector) applies to every enrolled workload; a selector limits.
    it('an allow-nothing policy in the root namespace is mesh-wide; a selector limits it to matching pods', () => {
      const meshWide = cluster({ authorizationPolicies: [ap('istio-system', 'allow-nothing', {})] });
      expect(decide(meshWide, { from: client, toIp: IP.server, port: 8080 })).toMatchObject(RESET);
      expect(decide(meshWide, { from: client, toIp: IP.web, port: 8080 })).toMatchObject(CONNECTED);
      const selected = cluster({
        authorizationPolicies: [
          ap('istio-system', 'allow-nothing', { selector: { matchLabels: { app: 'other' } } }),
        ],
      });
      expect(decide(selected, { from: client, toIp: IP.server, port: 8080 })).toMatchObject(CONNECTED);
      // workloads.go buildWorkloadPolicies: root-namespace selector policies reach matching pods of any namespace
      const rootSelects = cluster({
        authorizationPolicies: [
          ap('istio-system', 'allow-nothing', { selector: { matchLabels: { app: 'server' } } }),
        ],
      });
      expect(decide(rootSelects, { from: client, toIp: IP.server, port: 8080 })).toMatchObject(RESET);
    });

    it('L4 fields: namespaces, ipBlocks (the real source IP) and ports (the app port, not 15008)', () => {
      const byNs = cluster({
        authorizationPolicies: [
          ap('mesh', 'ns', { rules: [{ from: [{ source: { namespaces: ['mesh'] } }] }] }),
        ],
      });
      expect(decide(byNs, { from: other, toIp: IP.server, port: 8080 })).toMatchObject(CONNECTED);
      expect(decide(byNs, { from: legacy, toIp: IP.server, port: 8080 })).toMatchObject(RESET);

      const byIp = cluster({
        authorizationPolicies: [
          ap('mesh', 'ip', { rules: [{ from: [{ source: { ipBlocks: [`${IP.client}/32`, IP.legacy] } }] }] }),
        ],
      });
      expect(decide(byIp, { from: client, toIp: IP.server, port: 8080 })).toMatchObject(CONNECTED);
      expect(decide(byIp, { from: legacy, toIp: IP.server, port: 8080 })).toMatchObject(CONNECTED);
      expect(decide(byIp, { from: other, toIp: IP.server, port: 8080 })).toMatchObject(RESET);

      const byPort = cluster({
        authorizationPolicies: [
          ap('mesh', 'port', { rules: [{ to: [{ operation: { ports: ['9090'] } }] }] }),
        ],
      });
      expect(decide(byPort, { from: client, toIp: IP.server, port: 9090 })).toMatchObject(CONNECTED);
      expect(decide(byPort, { from: client, toIp: IP.server, port: 8080 })).toMatchObject(RESET);
    });

    // rbac.rs: a rule without clauses matches everything (rbac_empty_policy: vec![vec![]] matches).
    it('rules: [{}] allows everything; an ALLOW without rules allows nothing', () => {
      expect(
        decide(cluster({ authorizationPolicies: [ap('mesh', 'all', { rules: [{}] })] }), {
          from: legacy,
          toIp: IP.server,
          port: 8080,
        }),
      ).toMatchObject(CONNECTED);
      expect(
        decide(cluster({ authorizationPolicies: [ap('mesh', 'none', { action: 'ALLOW' })] }), {
          from: client,
          toIp: IP.server,
          port: 8080,
        }),
      ).toMatchObject(RESET);
    });
  });
});

describe('5. nothing listening', () => {
  const objects = cluster();

  it('plain → plain: the kernel refuses (exit 7)', () => {
    expect(decide(objects, { from: legacy, toIp: IP.web, port: 9999 })).toMatchObject(REFUSED);
  });

  // inbound.rs serve_connect: freebind_connect to the app fails → 503 SERVICE_UNAVAILABLE on the CONNECT;
  // h2/client.rs send_request: non-200 → Error::HttpStatus; outbound.rs drops curl's stream → RST, exit 56.
  it('HBONE: ztunnel answers the CONNECT with 503 and curl sees a reset', () => {
    const d = decide(objects, { from: client, toIp: IP.server, port: 9999 });
    expect(d).toMatchObject({ ...RESET, hbone: true });
    expect(d.why).toContain('503');
  });

  // Through ztunnel the client's connect already succeeded: inbound_passthrough.rs / outbound.rs proxy_to_tcp.
  it('plain → meshed and meshed → plain: ztunnel accepted first, so a reset rather than a refusal', () => {
    expect(decide(objects, { from: legacy, toIp: IP.server, port: 9999 })).toMatchObject(RESET);
    expect(decide(objects, { from: client, toIp: IP.web, port: 9999 })).toMatchObject(RESET);
  });
});

describe('curl timing and partial enrollment', () => {
  it('--max-time shorter than ztunnel 10 s connect timeout turns the close into curl exit 28', () => {
    const objects = cluster({
      networkPolicies: [netpol('mesh', 'deny', { podSelector: {}, policyTypes: ['Ingress'] })],
    });
    expect(
      decide(objects, { from: client, toIp: IP.server, port: 8080 }, { connectTimeout: 5, maxTime: 8 }),
    ).toMatchObject({
      outcome: 'timeout',
      curlExit: 28,
      seconds: 8,
    });
  });

  // podutil.go AmbientRedirectionPending: redirection rules in place, no ztunnel listening in that netns yet.
  it('a pending pod refuses: nothing listens on 15001/15006 in its netns', () => {
    const pendingAnn = { 'ambient.istio.io/redirection': 'pending' };
    const objects = cluster({
      pods: [
        pod('mesh', 'pending', '10.244.1.50', { labels: { app: 'p' }, ann: pendingAnn, ports: [[8080]] }),
      ],
    });
    expect(decide(objects, { from: from('mesh', 'pending'), toIp: IP.web, port: 8080 })).toMatchObject(
      REFUSED,
    );
    expect(decide(objects, { from: legacy, toIp: '10.244.1.50', port: 8080 })).toMatchObject(REFUSED);
    expect(decide(objects, { from: client, toIp: '10.244.1.50', port: 8080 })).toMatchObject({
      ...RESET,
      hbone: false,
    });
  });
});

// istiod's own expectations: istio@1.28.3 pilot/pkg/serviceregistry/kube/controller/ambient/testdata/*-in.yaml and
// their golden outputs (TestRBACConvert, ambientindex_test.go), transcribed. The twin's conversions were also
// checked against all 22 golden files of that directory (see README).
describe('istiod conversions match istio golden files', () => {
  // The golden YAML shape (protomarshal.ToYAML of security.Authorization): empty lists omitted.
  const golden = (p: ZtunnelPolicy | undefined) => {
    if (!p) return null;
    const sm = (m: any) => (m.kind === 'presence' ? { presence: {} } : { [m.kind]: m.v });
    const match = (m: any) =>
      Object.fromEntries(
        Object.entries(m)
          .filter(([, v]) => (v as unknown[]).length > 0)
          .map(([k, v]) => [k, /rincipals|amespaces/.test(k) ? (v as unknown[]).map(sm) : v]),
      );
    return {
      action: p.action === 'Deny' ? 'DENY' : 'ALLOW',
      groups: p.rules.map((clauses) => ({ rules: clauses.map((ms) => ({ matches: ms.map(match) })) })),
      name: p.name,
      scope: { Global: 'GLOBAL', Namespace: 'NAMESPACE', WorkloadSelector: 'WORKLOAD_SELECTOR' }[p.scope],
    };
  };
  const { convertPeerAuthentication, convertAuthorizationPolicy } = upstreamConversions;

  it('peer-authn-strict-root-permissive-workload', () => {
    const workload = pa('foo', 'workload', {
      selector: { matchLabels: { app: 'a' } },
      portLevelMtls: { '9090': { mode: 'PERMISSIVE' } },
    });
    const root = pa('istio-system', 'default-mesh', { mtls: { mode: 'STRICT' } });
    expect(golden(convertPeerAuthentication('istio-system', workload, undefined, root))).toEqual({
      action: 'DENY',
      groups: [
        {
          rules: [
            { matches: [{ notDestinationPorts: [9090] }] },
            { matches: [{ notPrincipals: [{ presence: {} }] }] },
          ],
        },
      ],
      name: 'converted_peer_authentication_workload',
      scope: 'WORKLOAD_SELECTOR',
    });
  });

  it('peer-authn-permissive-port-mtls-strict', () => {
    const workload = pa('default', 'permissive-strict-mtls', {
      selector: { matchLabels: { app: 'a' } },
      mtls: { mode: 'PERMISSIVE' },
      portLevelMtls: { '9090': { mode: 'STRICT' } },
    });
    expect(golden(convertPeerAuthentication('istio-system', workload, undefined, undefined))).toEqual({
      action: 'DENY',
      groups: [{ rules: [{ matches: [{ destinationPorts: [9090], notPrincipals: [{ presence: {} }] }] }] }],
      name: 'converted_peer_authentication_permissive-strict-mtls',
      scope: 'WORKLOAD_SELECTOR',
    });
  });

  it('peer-authn-strict (no portLevelMtls) is not converted: the static STRICT policy covers it', () => {
    expect(
      convertPeerAuthentication(
        'istio-system',
        pa('foo', 'strict', { mtls: { mode: 'STRICT' } }),
        undefined,
        undefined,
      ),
    ).toBeUndefined();
  });

  // deny-groups-in.yaml rules "Only L4" and "Only L7" → groups 3 and 4 of deny-groups.yaml: the HTTP-only
  // clauses stay as empty matches, which ztunnel's matcher skips.
  it('deny-groups: an L7-only DENY rule becomes clauses of empty matches', () => {
    const policy = ap('', 'groups-deny', {
      action: 'DENY',
      rules: [
        {
          from: [{ source: { principals: ['only-l4-principals'], namespaces: ['only-l4-ns'] } }],
          to: [{ operation: { ports: ['80'] } }],
        },
        {
          from: [{ source: { requestPrincipals: ['l7-principal'] } }],
          to: [{ operation: { paths: ['/l7-foo'], methods: ['l7-method'] } }],
        },
      ],
    });
    expect(golden(convertAuthorizationPolicy('istio-system', policy))).toEqual({
      action: 'DENY',
      groups: [
        {
          rules: [
            { matches: [{ destinationPorts: [80] }] },
            {
              matches: [
                { namespaces: [{ exact: 'only-l4-ns' }], principals: [{ exact: 'only-l4-principals' }] },
              ],
            },
          ],
        },
        { rules: [{ matches: [{}] }, { matches: [{}] }] },
      ],
      name: 'groups-deny',
      scope: 'NAMESPACE',
    });
  });
});

describe('enrolled pods on a node without ztunnel (uninstalled from under them)', () => {
  // client and other run on kind-worker, server on kind-worker2.
  const objects = (ztunnelNodes: string[]) => ({ ...cluster(), ztunnelNodes });
  const REFUSED = { outcome: 'refused', curlExit: 7, seconds: 0 };

  it('an enrolled source with no ztunnel on its node meets nothing on 15001: refused', () => {
    expect(decide(objects(['kind-worker2']), { from: client, toIp: IP.server, port: 8080 })).toMatchObject(
      REFUSED,
    );
    expect(decide(objects(['kind-worker2']), { from: client, toIp: IP.web, port: 8080 })).toMatchObject(
      REFUSED,
    );
  });

  it('a plaintext client meets nothing on the destination’s 15006: refused', () => {
    expect(decide(objects(['kind-worker']), { from: legacy, toIp: IP.server, port: 8080 })).toMatchObject(
      REFUSED,
    );
  });

  it('an HBONE client finds the destination’s 15008 closed: its ztunnel drops curl’s stream', () => {
    expect(decide(objects(['kind-worker']), { from: client, toIp: IP.server, port: 8080 })).toMatchObject(
      RESET,
    );
  });

  it('with ztunnel on every node nothing changes', () => {
    expect(
      decide(objects(['kind-worker', 'kind-worker2']), { from: client, toIp: IP.server, port: 8080 }),
    ).toMatchObject(CONNECTED);
  });
});

describe('native HBONE endpoints', () => {
  it('a networking.istio.io/tunnel label listing http among others still makes one (SupportsTunnel splits on commas)', () => {
    const tunnel = pod('plain', 'tunnel', '10.244.2.50', {
      labels: { 'networking.istio.io/tunnel': 'h2,http' },
      ports: [[8080]],
    });
    const d = decide(cluster({ pods: [tunnel] }), { from: client, toIp: '10.244.2.50', port: 8080 });
    expect(d).toMatchObject({ ...CONNECTED, hbone: true, judgedPort: 15008 });
  });
});
