import { DOCKER_V20_10_0, usageError } from '../../helpers/cli-tables.ts';
import { NET_D_DUMP, RULES_DUMP } from '../../../harness/removal/node-state.ts';
import { clusterOfNode, readClusters, type ClusterRecord, type Io } from './kind.ts';
import { kubeFromEnv } from './kube.ts';

/**
 * The twin's `docker` (CLI 28.2.2 against a running daemon): `info`, `version` and `exec` into the
 * kind nodes of $TWIN_STATE_DIR/kind. A node's /etc/cni/net.d and host rules follow the twin: the
 * istio-cni plugin is chained into kindnet's conflist, and ISTIO_POSTRT / istio-inpod-probes-* are
 * present, while a DaemonSet labelled k8s-app=istio-cni-node has a ready pod; without one the node
 * is as kindnet left it. Usage errors come from cli-tables.ts DOCKER_V20_10_0.
 */

const CLIENT = { Version: '28.2.2', ApiVersion: '1.50', GitCommit: 'e6534b4', GoVersion: 'go1.24.3' };

function info(): Record<string, unknown> {
  const nodes = readClusters().reduce((n, c) => n + c.nodes.length, 0);
  return {
    ID: '4f1c2c3e-7d1a-4f6e-9a51-2b7e0c5e9d10',
    Containers: nodes,
    ContainersRunning: nodes,
    ContainersPaused: 0,
    ContainersStopped: 0,
    Images: 1,
    Driver: 'overlay2',
    DriverStatus: [['Backing Filesystem', 'extfs']],
    Plugins: {
      Volume: ['local'],
      Network: ['bridge', 'host', 'null'],
      Authorization: null,
      Log: ['json-file', 'local'],
    },
    MemoryLimit: true,
    SwapLimit: true,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    IPv4Forwarding: true,
    Debug: false,
    NFd: 40,
    OomKillDisable: false,
    NGoroutines: 60,
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'json-file',
    CgroupDriver: 'systemd',
    CgroupVersion: '2',
    NEventsListener: 0,
    KernelVersion: '6.8.0-1017-azure',
    OperatingSystem: 'Ubuntu 24.04.2 LTS',
    OSVersion: '24.04',
    OSType: 'linux',
    Architecture: 'x86_64',
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: { IndexConfigs: {}, Mirrors: null },
    NCPU: 4,
    MemTotal: 16766734336,
    GenericResources: null,
    DockerRootDir: '/var/lib/docker',
    HttpProxy: '',
    HttpsProxy: '',
    NoProxy: '',
    Name: 'runner',
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: '28.2.2',
    Runtimes: { runc: { path: 'runc' } },
    DefaultRuntime: 'runc',
    Swarm: {
      NodeID: '',
      NodeAddr: '',
      LocalNodeState: 'inactive',
      ControlAvailable: false,
      Error: '',
      RemoteManagers: null,
    },
    LiveRestoreEnabled: false,
    Isolation: '',
    InitBinary: 'docker-init',
    ContainerdCommit: { ID: '05044ec0a9a75232cad458027ca83437aae3f4da' },
    RuncCommit: { ID: 'v1.2.5-0-g59923ef' },
    InitCommit: { ID: 'de40ad0' },
    SecurityOptions: ['name=apparmor', 'name=seccomp,profile=builtin', 'name=cgroupns'],
    CDISpecDirs: ['/etc/cdi', '/var/run/cdi'],
    Warnings: null,
    ClientInfo: {
      Debug: false,
      Version: CLIENT.Version,
      DefaultAPIVersion: CLIENT.ApiVersion,
      GitCommit: CLIENT.GitCommit,
      GoVersion: CLIENT.GoVersion,
      Os: 'linux',
      Arch: 'amd64',
      BuildTime: 'Fri May 30 12:07:14 2025',
      Context: 'default',
      Plugins: [],
      Warnings: null,
    },
  };
}

/** kindnetd's cniConfigTemplate (kind v0.30.0 images/kindnetd/cmd/kindnetd/cni.go) for one pod CIDR and MTU 1500. */
export function kindnetConflist(subnet: string): string {
  return `
{
\t"cniVersion": "0.3.1",
\t"name": "kindnet",
\t"plugins": [
\t{
\t\t"type": "ptp",
\t\t"ipMasq": false,
\t\t"ipam": {
\t\t\t"type": "host-local",
\t\t\t"dataDir": "/run/cni-ipam-state",
\t\t\t"routes": [
\t\t\t\t
\t\t\t\t
\t\t\t\t{ "dst": "0.0.0.0/0" }
\t\t\t],
\t\t\t"ranges": [
\t\t\t\t
\t\t\t\t
\t\t\t\t[ { "subnet": "${subnet}" } ]
\t\t\t]
\t\t}
\t\t,
\t\t"mtu": 1500
\t\t
\t},
\t{
\t\t"type": "portmap",
\t\t"capabilities": {
\t\t\t"portMappings": true
\t\t}
\t}
\t]
}
`;
}

const sortKeys = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(sortKeys)
    : typeof v === 'object' && v !== null
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
        )
      : v;

/** The conflist after istio-cni's insertCNIConfig (istio 1.28.3 cni/pkg/install/cniconfig.go): re-marshalled, keys sorted, istio-cni last. */
export function withIstioConflist(subnet: string, podNamespace: string): string {
  const conf = {
    cniVersion: '0.3.1',
    name: 'kindnet',
    plugins: [
      {
        type: 'ptp',
        ipMasq: false,
        ipam: {
          type: 'host-local',
          dataDir: '/run/cni-ipam-state',
          routes: [{ dst: '0.0.0.0/0' }],
          ranges: [[{ subnet }]],
        },
        mtu: 1500,
      },
      { type: 'portmap', capabilities: { portMappings: true } },
      {
        ambient_enabled: true,
        cni_agent_run_dir: '/var/run/istio-cni',
        dns: {},
        enablement_selectors: [
          { namespaceSelector: {}, podSelector: { matchLabels: { 'istio.io/dataplane-mode': 'ambient' } } },
          {
            namespaceSelector: { matchLabels: { 'istio.io/dataplane-mode': 'ambient' } },
            podSelector: {
              matchExpressions: [{ key: 'istio.io/dataplane-mode', operator: 'NotIn', values: ['none'] }],
            },
          },
        ],
        exclude_namespaces: ['kube-system'],
        ipam: {},
        name: 'istio-cni',
        native_nftables: false,
        plugin_log_level: 'info',
        pod_namespace: podNamespace,
        type: 'istio-cni',
      },
    ],
  };
  return `${JSON.stringify(sortKeys(conf), null, 2)}\n`;
}

const KINDNET_NFT = `table inet kindnet-network-policies {
\tchain prerouting {
\t\ttype filter hook prerouting priority dstnat + 5; policy accept;
\t}

\tchain postrouting {
\t\ttype filter hook postrouting priority srcnat - 5; policy accept;
\t}
}
`;

/** ctime as iptables-save prints it: `Sun Nov 29 06:10:01 2026`. */
function ctime(d = new Date()): string {
  const s = d.toUTCString(); // "Sun, 29 Nov 2026 06:10:01 GMT"
  const m = /^(\w+), (\d+) (\w+) (\d+) ([\d:]+)/.exec(s);
  return m ? `${m[1]} ${m[3]} ${(m[2] ?? '').padStart(2, ' ')} ${m[5]} ${m[4]}` : s;
}

function iptablesNat(tool: string, set: string, to: string, when: string): string {
  return `# Generated by ${tool} v1.8.9 (nf_tables) on ${when}
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:ISTIO_POSTRT - [0:0]
-A POSTROUTING -j ISTIO_POSTRT
-A ISTIO_POSTRT -p tcp -m owner --socket-exists -m set --match-set ${set} dst -j SNAT --to-source ${to}
COMMIT
# Completed on ${when}
`;
}

export function rulesDump(istio: boolean, when = ctime()): string {
  if (!istio)
    return `==> iptables-legacy-save <==\n==> iptables-nft-save <==\n==> ip6tables-legacy-save <==\n==> ip6tables-nft-save <==\n==> nft <==\n${KINDNET_NFT}`;
  const v6 = 'fd16:9254:7127:1337:ffff:ffff:ffff:ffff';
  const natTable = (
    fam: string,
    snat: string,
  ) => `# Warning: table ${fam} nat is managed by iptables-nft, do not touch!
table ${fam} nat {
\tchain ISTIO_POSTRT {
\t\tmeta l4proto tcp xt match owner xt match set counter packets 0 bytes 0 ${snat}
\t}

\tchain POSTROUTING {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tcounter packets 0 bytes 0 jump ISTIO_POSTRT
\t}
}
`;
  return [
    '==> iptables-legacy-save <==\n',
    `==> iptables-nft-save <==\n${iptablesNat('iptables-nft-save', 'istio-inpod-probes-v4', '169.254.7.127', when)}`,
    '==> ip6tables-legacy-save <==\n',
    `==> ip6tables-nft-save <==\n${iptablesNat('ip6tables-nft-save', 'istio-inpod-probes-v6', v6, when)}`,
    `==> nft <==\n${KINDNET_NFT}${natTable('ip', 'snat to 169.254.7.127')}${natTable('ip6', `snat ip6 to ${v6}`)}`,
  ].join('');
}

/** Whether istio-cni runs (a ready istio-cni-node DaemonSet) and in which namespace. */
async function istioCni(): Promise<{ running: boolean; namespace: string }> {
  const kube = kubeFromEnv();
  const ds = await kube.list('apps/v1', 'DaemonSet', undefined, 'k8s-app=istio-cni-node');
  const ready = ds.find((d) => ((d.status as { numberReady?: number } | undefined)?.numberReady ?? 0) > 0);
  return { running: ready !== undefined, namespace: ready?.metadata.namespace ?? 'istio-system' };
}

async function nodeFiles(node: ClusterRecord['nodes'][number]): Promise<Map<string, string>> {
  const cni = await istioCni();
  const subnet = node.podCIDR;
  return new Map([
    [
      '/etc/cni/net.d/10-kindnet.conflist',
      cni.running ? withIstioConflist(subnet, cni.namespace) : kindnetConflist(subnet),
    ],
  ]);
}

async function exec(container: string, command: string[], io: Io): Promise<number> {
  const cluster = clusterOfNode(container);
  const node = cluster?.nodes.find((n) => n.name === container);
  if (!node) {
    io.err(`Error response from daemon: No such container: ${container}\n`);
    return 1;
  }
  const script = command[0] === 'sh' && command[1] === '-c' ? (command[2] ?? '') : command.join(' ');
  const files = await nodeFiles(node);
  if (script === NET_D_DUMP) {
    io.out([...files].map(([p, c]) => `==> ${p} <==\n${c}\n`).join(''));
    return 0;
  }
  if (script === RULES_DUMP) {
    io.out(rulesDump((await istioCni()).running));
    return 0;
  }
  const cat = /^cat ((?:\S+ ?)+)$/.exec(script);
  if (cat) {
    let rc = 0;
    for (const p of (cat[1] ?? '').trim().split(' ')) {
      const c = files.get(p);
      if (c === undefined) {
        io.err(`cat: ${p}: No such file or directory\n`);
        rc = 1;
      } else io.out(c);
    }
    return rc;
  }
  if (/^ls( -1)? \/etc\/cni\/net\.d\/?$/.test(script)) {
    io.out([...files.keys()].map((p) => p.split('/').at(-1)).join('\n') + '\n');
    return 0;
  }
  const first = script.split(/\s+/)[0] ?? '';
  if (first === 'ipset') {
    io.err(`sh: 1: ipset: not found\n`);
    return 127;
  }
  io.err(`twin docker: exec in ${container}: no answer for: ${script}\n`);
  return 126;
}

export async function dockerMain(argv: string[], io: Io): Promise<number> {
  const usage = usageError(DOCKER_V20_10_0, argv);
  if (usage !== undefined) {
    io.err(`${usage}\nSee 'docker --help'.\n`);
    return 1;
  }
  // Root flags precede the command (no value flags are used by the harness).
  let i = 0;
  while ((argv[i] ?? '').startsWith('-')) i++;
  const cmd = argv[i];
  const rest = argv.slice(i + 1);
  const format = () => {
    const k = rest.findIndex((a) => a === '--format' || a === '-f');
    return k >= 0 ? rest[k + 1] : rest.find((a) => a.startsWith('--format='))?.slice('--format='.length);
  };
  if (argv.includes('--version') || argv.includes('-v')) {
    io.out(`Docker version ${CLIENT.Version}, build ${CLIENT.GitCommit}\n`);
    return 0;
  }
  switch (cmd) {
    case 'info': {
      const f = format();
      if (f === '{{json .}}') io.out(`${JSON.stringify(info())}\n`);
      else if (f === '{{.ServerVersion}}') io.out(`${CLIENT.Version}\n`);
      else
        io.out(
          `Client: Docker Engine - Community\n Version:    ${CLIENT.Version}\n\nServer:\n Server Version: ${CLIENT.Version}\n`,
        );
      return 0;
    }
    case 'version': {
      const f = format();
      if (f === '{{.Client.Version}}') io.out(`${CLIENT.Version}\n`);
      else if (f === '{{.Server.Version}}') io.out(`${CLIENT.Version}\n`);
      else if (f === '{{json .}}')
        io.out(
          `${JSON.stringify({ Client: { ...CLIENT, Os: 'linux', Arch: 'amd64' }, Server: { Version: CLIENT.Version, ApiVersion: CLIENT.ApiVersion } })}\n`,
        );
      else
        io.out(
          `Client: Docker Engine - Community\n Version:           ${CLIENT.Version}\n API version:       ${CLIENT.ApiVersion}\n`,
        );
      return 0;
    }
    case 'exec': {
      // Flags end at the container name (all the harness's are value-less or -e/-u/-w with values).
      let k = 0;
      const valueFlags = new Set([
        '--detach-keys',
        '--user',
        '-u',
        '--env',
        '-e',
        '--env-file',
        '--workdir',
        '-w',
      ]);
      while ((rest[k] ?? '').startsWith('-')) k += valueFlags.has(rest[k] ?? '') ? 2 : 1;
      return exec(rest[k] ?? '', rest.slice(k + 1), io);
    }
  }
  return 1;
}
