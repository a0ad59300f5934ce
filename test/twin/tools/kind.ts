import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { KIND_V0_30_0, usageError } from '../../helpers/cli-tables.ts';
import { HttpError, kubeFromEnv, parseGoDuration, stateDir, type Kube, type KubeObj } from './kube.ts';

/**
 * The twin's `kind` (v0.30.0): clusters are records in $TWIN_STATE_DIR/kind/<name>.json whose
 * kubeconfig points at the twin's API server. Usage errors come from cli-tables.ts KIND_V0_30_0.
 */

export interface ClusterRecord {
  name: string;
  image: string;
  nodes: { name: string; role: 'control-plane' | 'worker'; podCIDR: string }[];
  kubeconfig?: string;
  created: string;
}

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const clustersDir = () => path.join(stateDir(), 'kind');

export function readClusters(): ClusterRecord[] {
  const dir = clustersDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as ClusterRecord)
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function clusterOfNode(node: string): ClusterRecord | undefined {
  return readClusters().find((c) => c.nodes.some((n) => n.name === node));
}

function flags(argv: string[]): { values: Map<string, string>; args: string[] } {
  const values = new Map<string, string>();
  const args: string[] = [];
  const alias: Record<string, string> = { n: 'name', v: 'verbosity', q: 'quiet' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a.startsWith('-') && a !== '-') {
      const m = /^--?([^=]+)(?:=(.*))?$/s.exec(a);
      const name = alias[m?.[1] ?? ''] ?? m?.[1] ?? '';
      if (['quiet', 'retain', 'internal', 'help', 'h'].includes(name)) values.set(name, 'true');
      else values.set(name, m?.[2] ?? argv[++i] ?? '');
    } else args.push(a);
  }
  return { values, args };
}

function kubeconfigText(url: string, context: string, existing?: string): string {
  const cluster = { name: context, cluster: { server: url, 'insecure-skip-tls-verify': true } };
  const ctx = { name: context, context: { cluster: context, user: context } };
  const user = { name: context, user: { token: 'twin-token' } };
  let doc: Record<string, unknown> = { apiVersion: 'v1', kind: 'Config', preferences: {} };
  if (existing) doc = (parseYaml(existing) as Record<string, unknown> | null) ?? doc;
  const put = (key: string, item: { name: string }) => {
    const list = ((doc[key] as { name: string }[] | null) ?? []).filter((x) => x.name !== item.name);
    doc[key] = [...list, item];
  };
  put('clusters', cluster);
  put('contexts', ctx);
  put('users', user);
  doc['current-context'] = context;
  return stringify(doc);
}

function removeFromKubeconfig(file: string, context: string) {
  if (!existsSync(file)) return;
  const doc = (parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown> | null) ?? {};
  for (const key of ['clusters', 'contexts', 'users'])
    doc[key] = ((doc[key] as { name: string }[] | null) ?? []).filter((x) => x.name !== context);
  if (doc['current-context'] === context) doc['current-context'] = '';
  writeFileSync(file, stringify(doc), { mode: 0o600 });
}

function nodesFromConfig(name: string, configFile?: string): ClusterRecord['nodes'] {
  let roles: string[] = ['control-plane'];
  if (configFile) {
    const cfg = parseYaml(readFileSync(configFile, 'utf8')) as { nodes?: { role?: string }[] } | null;
    if (cfg?.nodes?.length) roles = cfg.nodes.map((n) => n.role ?? 'control-plane');
  }
  // kind names the first control plane <name>-control-plane, then -control-plane2..; workers -worker, -worker2..
  const count: Record<string, number> = {};
  return roles.map((role, i) => {
    const r = role === 'worker' ? 'worker' : 'control-plane';
    count[r] = (count[r] ?? 0) + 1;
    return {
      name: `${name}-${r}${count[r] === 1 ? '' : count[r]}`,
      role: r,
      podCIDR: `10.244.${i}.0/24`,
    };
  });
}

function nodeObject(n: ClusterRecord['nodes'][number], image: string): KubeObj {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: n.name,
      labels: {
        'kubernetes.io/hostname': n.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        ...(n.role === 'control-plane' ? { 'node-role.kubernetes.io/control-plane': '' } : {}),
      },
    },
    spec: {
      podCIDR: n.podCIDR,
      podCIDRs: [n.podCIDR],
      ...(n.role === 'control-plane'
        ? { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] }
        : {}),
    },
    status: {
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'kubelet is posting ready status',
          lastHeartbeatTime: now,
          lastTransitionTime: now,
        },
      ],
      nodeInfo: {
        kubeletVersion: /:(v[\d.]+)/.exec(image)?.[1] ?? 'v1.34.0',
        osImage: 'Debian GNU/Linux 12 (bookworm)',
        containerRuntimeVersion: 'containerd://2.1.4',
        architecture: 'amd64',
        operatingSystem: 'linux',
      },
    },
  };
}

/**
 * kind's default CNI, as `kind create cluster` applies it: kindnet's ServiceAccount and DaemonSet in
 * kube-system (kubernetes-sigs/kind@v0.30.0 pkg/build/nodeimage/const_cni.go, image
 * docker.io/kindest/kindnetd:v20250512-df8de77b; RBAC left out). The harness looks for this
 * DaemonSet to know that host traffic is not judged (harness/kube/ops.ts hasKindnet). kube-proxy,
 * CoreDNS and local-path-provisioner are not modelled.
 */
export function kindnetObjects(podSubnet: string): KubeObj[] {
  const labels = { tier: 'node', app: 'kindnet', 'k8s-app': 'kindnet' };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'kindnet', namespace: 'kube-system' } },
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'kindnet', namespace: 'kube-system', labels },
      spec: {
        selector: { matchLabels: { app: 'kindnet' } },
        template: {
          metadata: { labels },
          spec: {
            hostNetwork: true,
            nodeSelector: { 'kubernetes.io/os': 'linux' },
            tolerations: [{ operator: 'Exists' }],
            priorityClassName: 'system-node-critical',
            serviceAccountName: 'kindnet',
            containers: [
              {
                name: 'kindnet-cni',
                image: 'docker.io/kindest/kindnetd:v20250512-df8de77b',
                env: [
                  { name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
                  { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                  { name: 'POD_SUBNET', value: podSubnet },
                ],
                resources: {
                  requests: { cpu: '100m', memory: '50Mi' },
                  limits: { cpu: '100m', memory: '50Mi' },
                },
                securityContext: { privileged: false, capabilities: { add: ['NET_RAW', 'NET_ADMIN'] } },
              },
            ],
          },
        },
      },
    },
  ];
}

/** Deletes every object of every resource the twin lists (a deleted cluster takes its API with it). */
export async function wipe(kube: Kube): Promise<void> {
  const resources = (await kube.discover(true)).filter(
    (r) =>
      r.verbs.includes('list') && r.verbs.includes('delete') && !r.groupVersion.startsWith('metrics.k8s.io'),
  );
  // Custom resources first, CRDs and namespaces last.
  const rank = (r: { resource: string }) =>
    r.resource === 'namespaces' ? 2 : r.resource === 'customresourcedefinitions' ? 1 : 0;
  for (const r of resources.sort((a, b) => rank(a) - rank(b))) {
    let items: KubeObj[] = [];
    try {
      items = await kube.list(r.groupVersion, r.kind);
    } catch (e) {
      if (e instanceof HttpError && e.code === 404) continue;
      throw e;
    }
    for (const o of items) {
      try {
        await kube.delete(r.groupVersion, r.kind, o.metadata.name, o.metadata.namespace);
      } catch (e) {
        // The system namespaces cannot be deleted; the store keeps them for the next cluster.
        if (!(e instanceof HttpError && (e.code === 403 || e.code === 422 || e.code === 405))) throw e;
      }
    }
  }
}

export async function kindMain(argv: string[], io: Io): Promise<number> {
  const usage = usageError(KIND_V0_30_0, argv);
  if (usage !== undefined) {
    io.err(`ERROR: ${usage}\n`);
    return 1;
  }
  const { values, args } = flags(argv);
  const cmd = args.slice(0, 2).join(' ');
  if (values.has('version') || args[0] === 'version') {
    io.out('kind v0.30.0 go1.24.6 linux/amd64\n');
    return 0;
  }
  const name = values.get('name') ?? 'kind';
  const file = path.join(clustersDir(), `${name}.json`);
  switch (cmd) {
    case 'create cluster': {
      const wait = values.get('wait');
      if (wait !== undefined && parseGoDuration(wait) === undefined) {
        io.err(`ERROR: invalid argument "${wait}" for "--wait" flag: time: invalid duration "${wait}"\n`);
        return 1;
      }
      if (existsSync(file)) {
        io.err(
          `ERROR: failed to create cluster: node(s) already exist for a cluster with the name "${name}"\n`,
        );
        return 1;
      }
      const image = values.get('image') ?? 'kindest/node:v1.34.0';
      const nodes = nodesFromConfig(name, values.get('config'));
      const kube = kubeFromEnv();
      for (const n of nodes) {
        try {
          await kube.create(nodeObject(n, image));
        } catch (e) {
          if (!(e instanceof HttpError && e.code === 409)) throw e;
        }
      }
      // kind's default networking.podSubnet (v0.30.0 pkg/apis/config/v1alpha4/default.go).
      for (const o of kindnetObjects('10.244.0.0/16')) {
        try {
          await kube.create(o);
        } catch (e) {
          if (!(e instanceof HttpError && e.code === 409)) throw e;
        }
      }
      const kubeconfig = values.get('kubeconfig') ?? path.join(process.env.HOME ?? '/tmp', '.kube', 'config');
      mkdirSync(path.dirname(kubeconfig), { recursive: true });
      const existing = existsSync(kubeconfig) ? readFileSync(kubeconfig, 'utf8') : undefined;
      writeFileSync(kubeconfig, kubeconfigText(kube.url, `kind-${name}`, existing), { mode: 0o600 });
      chmodSync(kubeconfig, 0o600);
      mkdirSync(clustersDir(), { recursive: true });
      const rec: ClusterRecord = { name, image, nodes, kubeconfig, created: new Date().toISOString() };
      writeFileSync(file, `${JSON.stringify(rec, null, 2)}\n`);
      const workers = nodes.filter((n) => n.role === 'worker').length;
      const boxes = nodes.map(() => '📦').join(' ');
      const lines = [
        `Creating cluster "${name}" ...`,
        ` • Ensuring node image (${image}) 🖼  ...`,
        ` ✓ Ensuring node image (${image}) 🖼`,
        ` • Preparing nodes ${boxes}  ...`,
        ` ✓ Preparing nodes ${boxes} `,
        ' • Writing configuration 📜  ...',
        ' ✓ Writing configuration 📜',
        ' • Starting control-plane 🕹️  ...',
        ' ✓ Starting control-plane 🕹️',
        ' • Installing CNI 🔌  ...',
        ' ✓ Installing CNI 🔌',
        ' • Installing StorageClass 💾  ...',
        ' ✓ Installing StorageClass 💾',
        ...(workers ? [' • Joining worker nodes 🚜  ...', ' ✓ Joining worker nodes 🚜'] : []),
        ...(wait
          ? [
              ` • Waiting ≤ ${wait} for control-plane = Ready ⏳  ...`,
              ` ✓ Waiting ≤ ${wait} for control-plane = Ready ⏳`,
              ' • Ready after 0s 💚',
            ]
          : []),
        `Set kubectl context to "kind-${name}"`,
        'You can now use your cluster with:',
        '',
        `kubectl cluster-info --context kind-${name}${values.has('kubeconfig') ? ` --kubeconfig ${kubeconfig}` : ''}`,
        '',
        'Have a nice day! 👋',
      ];
      io.err(`${lines.join('\n')}\n`);
      return 0;
    }
    case 'delete cluster': {
      io.err(`Deleting cluster "${name}" ...\n`);
      if (!existsSync(file)) return 0;
      const rec = JSON.parse(readFileSync(file, 'utf8')) as ClusterRecord;
      await wipe(kubeFromEnv());
      const kc = values.get('kubeconfig') ?? rec.kubeconfig;
      if (kc) removeFromKubeconfig(kc, `kind-${name}`);
      rmSync(file);
      io.err(`Deleted nodes: [${rec.nodes.map((n) => JSON.stringify(n.name)).join(' ')}]\n`);
      return 0;
    }
    case 'get clusters': {
      const names = readClusters().map((c) => c.name);
      if (names.length === 0) io.err('No kind clusters found.\n');
      else io.out(`${names.join('\n')}\n`);
      return 0;
    }
    case 'get kubeconfig': {
      if (!existsSync(file)) {
        io.err(
          `ERROR: could not locate any control plane nodes for cluster named '${name}'. Use the --name option to select a different cluster\n`,
        );
        return 1;
      }
      io.out(kubeconfigText(kubeFromEnv().url, `kind-${name}`));
      return 0;
    }
    case 'export logs': {
      if (!existsSync(file)) {
        io.err(`ERROR: unknown cluster "${name}"\n`);
        return 1;
      }
      const rec = JSON.parse(readFileSync(file, 'utf8')) as ClusterRecord;
      const dir = args[2] ?? path.join('/tmp', `kind-logs-${Date.now()}`);
      for (const n of rec.nodes) {
        mkdirSync(path.join(dir, n.name), { recursive: true });
        writeFileSync(path.join(dir, n.name, 'kubelet.log'), `twin node ${n.name}: no kubelet log\n`);
      }
      writeFileSync(path.join(dir, 'kind-version.txt'), 'kind v0.30.0 go1.24.6 linux/amd64\n');
      io.err(`Exporting logs for cluster "${name}" to:\n`);
      io.out(`${dir}\n`);
      return 0;
    }
    default:
      // The root command or a group alone: kind prints its help.
      io.out("kind creates and manages local Kubernetes clusters using Docker container 'nodes'\n");
      return 0;
  }
}
