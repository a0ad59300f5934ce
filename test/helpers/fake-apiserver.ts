import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A minimal in-memory Kubernetes API server for orchestrator contract tests: it answers the
 * reads and writes the orchestrator makes, in the API's JSON shapes, for a healthy 3-node kind
 * cluster with Istio ambient Ready. Every request is recorded.
 */
export interface FakeApiServer {
  url: string;
  requests: string[];
  /** The User-Agent of each request. */
  agents: string[];
  /** Bodies received by POST, by path. */
  bodies: Map<string, unknown[]>;
  namespaces: Map<string, Record<string, unknown>>;
  /** coordination.k8s.io/v1 Leases by "<namespace>/<name>" (run markers). */
  leases: Map<string, Record<string, unknown>>;
  close(): Promise<void>;
}

const NODES = ['ambient-control-plane', 'ambient-worker', 'ambient-worker2'];
const ready = [{ type: 'Ready', status: 'True' }];

function pod(name: string, labels: Record<string, string>, node: string) {
  return {
    metadata: { name, namespace: 'istio-system', labels },
    spec: { nodeName: node, containers: [{ name: 'c' }] },
    status: { phase: 'Running', conditions: ready },
  };
}

export async function startFakeApiServer(
  opts: {
    istioReady?: boolean;
    /** kind's kindnet DaemonSet in kube-system (default true: a kind cluster) */
    kindnet?: boolean;
    /** Requests whose path matches are never answered (a hung API call). */
    hang?: RegExp;
    /** POSTs whose path matches are refused 403 Forbidden, as RBAC refuses them. */
    forbidCreate?: RegExp;
  } = {},
): Promise<FakeApiServer> {
  const namespaces = new Map<string, Record<string, unknown>>([
    ['default', { metadata: { name: 'default', labels: {} } }],
  ]);
  const requests: string[] = [];
  const leases = new Map<string, Record<string, unknown>>();
  let rv = 100;
  const bodies = new Map<string, unknown[]>();
  const agents: string[] = [];
  const istioReady = opts.istioReady ?? true;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${url.pathname}`);
    agents.push(req.headers['user-agent'] ?? '');
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const send = (code: number, obj: unknown) => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(obj));
      };
      const notFound = () =>
        send(404, {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          reason: 'NotFound',
          code: 404,
          message: `${url.pathname} not found`,
        });
      const p = url.pathname;
      if (opts.hang?.test(p)) return; // never answered
      if (req.method === 'POST' && opts.forbidCreate?.test(p))
        return send(403, {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          reason: 'Forbidden',
          code: 403,
          message: `cannot create resource at ${p}: forbidden`,
        });
      if (req.method === 'POST') bodies.set(p, [...(bodies.get(p) ?? []), JSON.parse(body || 'null')]);
      const np = /^\/apis\/networking\.k8s\.io\/v1\/namespaces\/([^/]+)\/networkpolicies$/.exec(p);
      if (np && req.method === 'POST') return send(201, JSON.parse(body));
      if (np && req.method === 'GET')
        return send(200, {
          kind: 'NetworkPolicyList',
          apiVersion: 'networking.k8s.io/v1',
          metadata: {},
          items: (bodies.get(p) ?? []).map((b) => {
            const o = { ...(b as Record<string, unknown>) };
            delete o.kind;
            delete o.apiVersion;
            return o;
          }),
        });
      // coordination.k8s.io/v1 Leases (the run marker), any namespace, keyed "<ns>/<name>". As the
      // API server: MicroTime fields need exactly six fractional digits (apimachinery v0.34.0
      // pkg/apis/meta/v1/micro_time.go, RFC3339Micro) or 400; an update needs the stored
      // resourceVersion (pkg/registry/coordination/lease/strategy.go) or 422, a stale one 409.
      const microTimeProblem = (o: { spec?: Record<string, unknown> }) =>
        ['acquireTime', 'renewTime']
          .map((k) => [k, o.spec?.[k]] as const)
          .find(
            ([, v]) =>
              v !== undefined &&
              !(typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(v)),
          );
      const badRequest = (message: string, code = 400, reason = 'BadRequest') =>
        send(code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, code, message });
      const leaseList = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases$/.exec(p);
      if (leaseList && req.method === 'POST') {
        const obj = JSON.parse(body) as {
          metadata: { name: string; namespace?: string };
          spec?: Record<string, unknown>;
        };
        const key = `${leaseList[1] ?? ''}/${obj.metadata.name}`;
        const bad = microTimeProblem(obj);
        if (bad)
          return badRequest(
            `Lease in version "v1" cannot be handled as a Lease: ${bad[0]}: ${String(bad[1])}`,
          );
        if (leases.has(key))
          return send(409, { kind: 'Status', status: 'Failure', reason: 'AlreadyExists', code: 409 });
        leases.set(key, {
          ...obj,
          metadata: { ...obj.metadata, namespace: leaseList[1], resourceVersion: String(++rv) },
        });
        return send(201, leases.get(key));
      }
      if (leaseList && req.method === 'GET') {
        const sel = url.searchParams.get('labelSelector');
        const items = [...leases.entries()]
          .filter(([k]) => k.startsWith(`${leaseList[1] ?? ''}/`))
          .map(([, v]) => v)
          .filter((l) => {
            if (!sel) return true;
            const [k, v] = sel.split('=');
            return ((l.metadata as { labels?: Record<string, string> }).labels ?? {})[k ?? ''] === v;
          });
        return send(200, { kind: 'LeaseList', apiVersion: 'coordination.k8s.io/v1', metadata: {}, items });
      }
      const lease = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases\/([^/]+)$/.exec(p);
      if (lease) {
        const key = `${lease[1] ?? ''}/${decodeURIComponent(lease[2] ?? '')}`;
        if (req.method === 'GET') return leases.has(key) ? send(200, leases.get(key)) : notFound();
        if (req.method === 'PUT') {
          const stored = leases.get(key);
          if (!stored) return notFound();
          const obj = JSON.parse(body) as {
            metadata: { resourceVersion?: string };
            spec?: Record<string, unknown>;
          };
          const bad = microTimeProblem(obj);
          if (bad)
            return badRequest(
              `Lease in version "v1" cannot be handled as a Lease: ${bad[0]}: ${String(bad[1])}`,
            );
          if (!obj.metadata.resourceVersion)
            return badRequest(
              'metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
              422,
              'Invalid',
            );
          if (
            obj.metadata.resourceVersion !== (stored.metadata as { resourceVersion?: string }).resourceVersion
          )
            return badRequest(
              'the object has been modified; please apply your changes to the latest version and try again',
              409,
              'Conflict',
            );
          leases.set(key, { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++rv) } });
          return send(200, leases.get(key));
        }
        if (req.method === 'DELETE') {
          if (!leases.delete(key)) return notFound();
          return send(200, { kind: 'Status', status: 'Success' });
        }
      }
      if (p === '/version') return send(200, { major: '1', minor: '34', gitVersion: 'v1.34.0' });
      if (p === '/api/v1/nodes')
        return send(200, {
          kind: 'NodeList',
          apiVersion: 'v1',
          metadata: {},
          items: NODES.map((n) => ({ metadata: { name: n }, status: { conditions: ready } })),
        });
      const nsMatch = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(p);
      if (p === '/api/v1/namespaces' && req.method === 'POST') {
        const obj = JSON.parse(body) as { metadata: { name: string } };
        namespaces.set(obj.metadata.name, obj);
        return send(201, obj);
      }
      if (p === '/api/v1/namespaces' && req.method === 'GET') {
        const sel = url.searchParams.get('labelSelector');
        const items = [...namespaces.values()].filter((n) => {
          if (!sel) return true;
          const [k, v] = sel.split('=');
          return ((n.metadata as { labels?: Record<string, string> }).labels ?? {})[k ?? ''] === v;
        });
        return send(200, { kind: 'NamespaceList', apiVersion: 'v1', metadata: {}, items });
      }
      if (nsMatch) {
        const name = decodeURIComponent(nsMatch[1] ?? '');
        if (req.method === 'GET') return namespaces.has(name) ? send(200, namespaces.get(name)) : notFound();
        if (req.method === 'PUT') {
          namespaces.set(name, JSON.parse(body) as Record<string, unknown>);
          return send(200, namespaces.get(name));
        }
        if (req.method === 'DELETE') {
          if (!namespaces.delete(name)) return notFound();
          return send(200, { kind: 'Status', status: 'Success' });
        }
      }
      if (p === '/apis/apps/v1/namespaces/kube-system/daemonsets/kindnet')
        return opts.kindnet === false
          ? notFound()
          : send(200, { metadata: { name: 'kindnet', namespace: 'kube-system' }, spec: {}, status: {} });
      if (p === '/apis/apps/v1/namespaces/istio-system/deployments/istiod')
        return send(200, {
          metadata: { name: 'istiod', generation: 1 },
          spec: { replicas: 1 },
          status: { observedGeneration: 1, availableReplicas: istioReady ? 1 : 0, updatedReplicas: 1 },
        });
      const ds = /^\/apis\/apps\/v1\/namespaces\/istio-system\/daemonsets\/(istio-cni-node|ztunnel)$/.exec(p);
      if (ds)
        return send(200, {
          metadata: { name: ds[1], generation: 1 },
          status: {
            observedGeneration: 1,
            desiredNumberScheduled: 3,
            numberReady: istioReady ? 3 : 0,
            updatedNumberScheduled: 3,
            numberAvailable: istioReady ? 3 : 0,
          },
        });
      if (p === '/api/v1/namespaces/istio-system/pods') {
        const items = istioReady
          ? [
              pod('istiod-1', { app: 'istiod' }, NODES[1] ?? ''),
              ...NODES.flatMap((n, i) => [
                pod(`ztunnel-${i}`, { app: 'ztunnel' }, n),
                pod(`istio-cni-node-${i}`, { 'k8s-app': 'istio-cni-node' }, n),
              ]),
            ]
          : [
              {
                metadata: { name: 'ztunnel-0', namespace: 'istio-system' },
                spec: { nodeName: NODES[0] },
                status: {
                  phase: 'Running',
                  conditions: [],
                  containerStatuses: [
                    {
                      name: 'istio-proxy',
                      restartCount: 5,
                      ready: false,
                      image: 'x',
                      imageID: '',
                      state: {
                        waiting: {
                          reason: 'CrashLoopBackOff',
                          message: 'back-off 2m40s restarting failed container',
                        },
                      },
                    },
                  ],
                },
              },
            ];
        return send(200, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items });
      }
      if (/^\/api\/v1\/namespaces\/[^/]+\/pods$/.test(p))
        return send(200, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [] });
      if (p === '/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io')
        return send(200, {
          metadata: { name: 'v1beta1.metrics.k8s.io' },
          spec: {},
          status: { conditions: [{ type: 'Available', status: 'True', reason: 'Passed' }] },
        });
      return notFound();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    bodies,
    agents,
    namespaces,
    leases,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // hung requests included
      }),
  };
}

export function kubeconfigFor(url: string, context: string): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: ${context}
  cluster:
    server: ${url}
    insecure-skip-tls-verify: true
contexts:
- name: ${context}
  context:
    cluster: ${context}
    user: ${context}
current-context: ${context}
users:
- name: ${context}
  user:
    token: fake-token-for-tests
`;
}
