import path from 'node:path';
import { MARKER_NAMESPACE, RENEW_EVERY_MS, markerName } from './kube/marker-names.ts';
import { stringify } from 'yaml';
import { installArgv, listArgv, uninstallArgv, type HelmTool, type KubeTarget } from './helm.ts';
import {
  createArgv,
  deleteArgv,
  exportLogsArgv,
  getClustersArgv,
  getKubeconfigArgv,
  renderConfig,
} from './kind.ts';
import { MINIMUM_DOCKER_CLI } from './tools.ts';
import { hubReason } from './istio/hosts.ts';
import { PINS, splitImage } from './pins.ts';
import type { Profile, ResolvedRelease } from './profile/core.ts';
import type { TimeoutKey } from './timeouts.ts';
import type { ResolvedTool } from './tools.ts';

/**
 * The plan: every step `run` performs, in order, with every external command exactly as it will
 * be executed. `run` executes this same list (environment.ts), so `plan` cannot drift from it.
 */

export type Phase =
  'preflight' | 'tools' | 'cluster' | 'addons' | 'istio' | 'workloads' | 'tests' | 'reports' | 'cleanup';

export type ApiOp =
  | 'check-api'
  | 'create-marker'
  | 'delete-marker'
  | 'wait-nodes-ready'
  | 'detect-istio'
  | 'create-namespaces'
  | 'wait-istio-ready'
  | 'wait-metrics-api'
  | 'delete-namespaces';

export interface Step {
  id: string;
  phase: Phase;
  description: string;
  /** argv of the external command this step runs; absent for API work and in-process steps. */
  command?: string[];
  /** Files written just before the command runs. */
  files?: { path: string; content: string; mode?: number }[];
  /** API work done through @kubernetes/client-node. */
  api?: ApiOp;
  /** Which timeout of the table bounds this step. */
  timeout?: TimeoutKey;
  /** always: in order; on-failure: only after a failed step or test; at-end: cleanup, unless kept. */
  when: 'always' | 'on-failure' | 'at-end';
}

export interface Plan {
  steps: Step[];
}

export type ClusterMode =
  /** Create a fresh kind cluster (default). */
  | 'kind'
  /** Re-use a kind cluster this tool created before (--reuse). */
  | 'kind-reuse'
  /** A cluster the user gives with --kubeconfig/--context: never created or deleted. */
  | 'existing';

export interface RunSettings {
  runId: string;
  mode: ClusterMode;
  clusterName: string;
  /** Folder of this run's reports (reports/<runId>). */
  runDir: string;
  /** Kubeconfig used for the run: written 0600 into runDir for kind; the user's for existing. */
  kubeconfig: string;
  context?: string;
  /** Existing mode: verify an Istio already installed instead of installing. */
  useExistingIstio: boolean;
  keep: boolean;
  keepOnFailure: boolean;
  /** --destructive: run the opt-in checks that break the mesh on purpose (REMOVAL-04). */
  destructive?: boolean;
  only: string[];
  skip: string[];
}

export interface PlanInput {
  profile: Profile;
  settings: RunSettings;
  kind: ResolvedTool;
  helm: ResolvedTool & { major: 3 | 4 };
}

export const RUN_ID_LABEL = 'ambient-conformance.io/run-id';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'ambient-conformance';

export function valuesFilesFor(
  release: ResolvedRelease,
  runDir: string,
): { files: string[]; inline?: { path: string; content: string } } {
  const files: string[] = [];
  if (release.valuesPath !== undefined) files.push(release.valuesPath);
  if (release.values !== undefined && Object.keys(release.values).length > 0) {
    const p = path.join(runDir, 'values', `${release.name}.inline.yaml`);
    files.push(p);
    return { files, inline: { path: p, content: stringify(release.values) } };
  }
  return { files };
}

export interface IstioInstallOptions {
  helm: HelmTool;
  target: KubeTarget;
  /** The run folder, where inline values are written (values/<release>.inline.yaml). */
  runDir: string;
  timeoutMs: number;
  createNamespace: boolean;
  /** `upgrade --install` (a re-used cluster, REMOVAL-04's reinstall) instead of `install`. */
  upgrade: boolean;
}

/**
 * The one builder of an Istio release's helm command, used by the plan and by the tests that
 * reinstall (REMOVAL-04): chart from `istio.chartRepository` at `istio.version`, the values file,
 * then inline values, then the plan's own `--set` entries (`release.planSet`).
 */
export function istioInstall(
  profile: Profile,
  release: ResolvedRelease,
  o: IstioInstallOptions,
): { command: string[]; valuesFiles: string[]; inline?: { path: string; content: string } } {
  const values = valuesFilesFor(release, o.runDir);
  const command = installArgv(
    o.helm,
    {
      release: release.name,
      namespace: profile.doc.istio.namespace,
      chart: {
        repository: profile.doc.istio.chartRepository,
        chart: release.chart,
        version: profile.doc.istio.version,
      },
      valuesFiles: values.files,
      set: release.planSet,
      timeoutMs: o.timeoutMs,
      createNamespace: o.createNamespace,
      upgrade: o.upgrade,
    },
    o.target,
  );
  return { command, valuesFiles: values.files, ...(values.inline ? { inline: values.inline } : {}) };
}

export function buildPlan(input: PlanInput): Plan {
  const { profile, settings, kind } = input;
  const helm: HelmTool = { path: input.helm.path, major: input.helm.major };
  const t = profile.timeouts;
  const target: KubeTarget = {
    kubeconfig: settings.kubeconfig,
    ...(settings.context ? { context: settings.context } : {}),
  };
  const istioNs = profile.doc.istio.namespace;
  const steps: Step[] = [];
  const isKind = settings.mode !== 'existing';

  steps.push({
    id: 'preflight',
    phase: 'preflight',
    description: isKind
      ? `check the Docker daemon (this command) and \`docker version --format {{.Client.Version}}\` (Docker CLI ${MINIMUM_DOCKER_CLI}+), then \`${kind.path} version\`, \`${input.helm.path} version --short\`, inotify limits, memory and disk (the checks of \`doctor\`)`
      : `check \`${input.helm.path} version --short\`, memory and disk; the API is checked in cluster.api`,
    ...(isKind ? { command: ['docker', 'info', '--format', '{{json .}}'] } : {}),
    when: 'always',
    timeout: 'preflight',
  });
  for (const tool of [kind, input.helm]) {
    if (tool.source === 'download' && (isKind || tool.name === 'helm'))
      steps.push({
        id: `tools.${tool.name}`,
        phase: 'tools',
        description: `download ${tool.name} ${tool.version} from ${tool.url ?? '?'}, verify its pinned SHA-256, cache it at ${tool.path}`,
        when: 'always',
      });
  }

  if (settings.mode === 'kind') {
    const configPath = path.join(settings.runDir, 'kind-config.yaml');
    steps.push({
      id: 'cluster.sweep',
      phase: 'cluster',
      description:
        'list kind clusters and delete stale ones of this tool (named ambient-conformance-*, their run no longer alive, not kept)',
      command: getClustersArgv(kind.path),
      when: 'always',
      timeout: 'clusterDelete',
    });
    steps.push({
      id: 'cluster.create',
      phase: 'cluster',
      description: `create kind cluster ${settings.clusterName} (${nodeSummary(profile)}, ${profile.doc.cluster.kind.nodeImage}); kubeconfig written 0600 to ${settings.kubeconfig}`,
      command: createArgv(kind.path, {
        name: settings.clusterName,
        configPath,
        image: profile.doc.cluster.kind.nodeImage,
        kubeconfig: settings.kubeconfig,
        waitMs: t.clusterCreate,
      }),
      files: [
        { path: configPath, content: renderConfig(profile.kindConfig, profile.doc.cluster.kind.nodeImage) },
      ],
      when: 'always',
      timeout: 'clusterCreate',
    });
  } else if (settings.mode === 'kind-reuse') {
    steps.push({
      id: 'cluster.kubeconfig',
      phase: 'cluster',
      description: `re-use kind cluster ${settings.clusterName}: write its kubeconfig 0600 to ${settings.kubeconfig}`,
      command: getKubeconfigArgv(kind.path, settings.clusterName),
      when: 'always',
      timeout: 'preflight',
    });
  }
  steps.push({
    id: 'cluster.api',
    phase: 'cluster',
    description: `connect to the API server (context ${settings.context ?? 'current'}), read Kubernetes version and nodes`,
    api: 'check-api',
    when: 'always',
    timeout: 'preflight',
  });
  steps.push({
    id: 'cluster.nodes-ready',
    phase: 'cluster',
    description: 'wait for every node to be Ready',
    api: 'wait-nodes-ready',
    when: 'always',
    timeout: 'nodesReady',
  });

  if (settings.mode === 'existing') {
    steps.push({
      id: 'cluster.marker',
      phase: 'cluster',
      description: `create the run marker Lease ${MARKER_NAMESPACE}/${markerName(settings.runId)} (labelled ${RUN_ID_LABEL}=${settings.runId}; it records each Helm release before it is installed and is renewed every ${RENEW_EVERY_MS / 1000}s, so \`ambient-conformance clean\` can remove what an interrupted run left and never touches a live run)`,
      api: 'create-marker',
      when: 'always',
      timeout: 'apiRequest',
    });
    steps.push({
      id: 'istio.detect',
      phase: 'istio',
      description: settings.useExistingIstio
        ? `use the Istio already installed in ${istioNs} as is: record its releases and versions, install nothing`
        : `refuse to continue if Istio is already installed and was not installed by this tool (use --use-existing-istio to test it as is)`,
      command: listArgv(helm, target),
      api: 'detect-istio',
      when: 'always',
      timeout: 'preflight',
    });
  }

  const installIstio = !(settings.mode === 'existing' && settings.useExistingIstio);
  if (isKind && profile.doc.cluster.metricsServer) {
    const ms = PINS.metricsServer;
    const img = splitImage(ms.image);
    steps.push({
      id: 'addons.metrics-server',
      phase: 'addons',
      description: `install metrics-server chart ${ms.chartVersion} (${img.tag}) with --kubelet-insecure-tls (kind kubelets serve self-signed certificates)`,
      command: installArgv(
        helm,
        {
          release: 'metrics-server',
          namespace: 'kube-system',
          chart: { repository: ms.chartRepository, chart: ms.chart, version: ms.chartVersion },
          valuesFiles: [],
          set: [
            'args={--kubelet-insecure-tls}',
            `image.repository=${img.repository}`,
            `image.tag=${img.tag}@${img.digest}`,
          ],
          timeoutMs: t.helmInstall,
          createNamespace: false,
          upgrade: settings.mode === 'kind-reuse',
        },
        target,
      ),
      when: 'always',
      timeout: 'helmInstall',
    });
  }

  if (isKind) {
    steps.push({
      id: 'workloads.namespaces',
      phase: 'workloads',
      description: `create the meshed namespaces (${profile.doc.mesh.meshedNamespaces.join(', ')}) labelled istio.io/dataplane-mode=ambient, and the plaintext control namespace ${profile.doc.mesh.controlNamespace}`,
      api: 'create-namespaces',
      when: 'always',
      timeout: 'namespaceDelete',
    });
  }

  if (installIstio) {
    for (const r of profile.releases) {
      const install = istioInstall(profile, r, {
        helm,
        target,
        runDir: settings.runDir,
        timeoutMs: t.helmInstall,
        createNamespace: true,
        upgrade: settings.mode === 'kind-reuse',
      });
      const files = install.valuesFiles;
      steps.push({
        id: `istio.install.${r.name}`,
        phase: 'istio',
        description: `helm ${settings.mode === 'kind-reuse' ? 'upgrade --install' : 'install'} ${r.name} (chart ${r.chart} ${profile.doc.istio.version}, sync wave ${r.syncWave}) into ${istioNs}${files.length ? `, values ${files.map((f) => path.basename(f)).join(', ')}` : ''}; ${typeof r.effectiveValues.profile === 'string' ? `profile: ${r.effectiveValues.profile}` : 'no profile (as the docs install it)'}${r.planSet.length ? `; the plan sets ${r.planSet.join(', ')} (${hubReason(profile.doc.istio.version)})` : ''}`,
        command: install.command,
        ...(install.inline ? { files: [install.inline] } : {}),
        when: 'always',
        timeout: 'helmInstall',
      });
    }
  }
  steps.push({
    id: 'istio.ready',
    phase: 'istio',
    description: `wait for istiod, istio-cni-node and ztunnel to be Ready in ${istioNs} (fails fast on CrashLoopBackOff)`,
    api: 'wait-istio-ready',
    when: 'always',
    timeout: 'podReady',
  });
  if (isKind && profile.doc.cluster.metricsServer) {
    steps.push({
      id: 'addons.metrics-api',
      phase: 'addons',
      description: 'wait for APIService v1beta1.metrics.k8s.io to be Available',
      api: 'wait-metrics-api',
      when: 'always',
      timeout: 'metricsAvailable',
    });
  }

  steps.push({
    id: 'tests',
    phase: 'tests',
    description: `run the conformance suites with Vitest (project "conformance")${selectionText(settings)}; each test gets its own namespace labelled ${RUN_ID_LABEL}=${settings.runId}. Commands the tests run themselves: \`istioctl ztunnel-config workloads\` if istioctl is on PATH (MTLS-01); \`${input.helm.path} uninstall\` of ${[
      ...profile.releases,
    ]
      .reverse()
      .map((r) => r.name)
      .join(
        ', ',
      )} and \`docker exec <node>\` reads of /etc/cni/net.d and host rules (REMOVAL-02, Istio installed by this run on kind only)`,
    when: 'always',
  });
  steps.push({
    id: 'reports',
    phase: 'reports',
    description: `write ${path.join(settings.runDir, '')}{junit.xml,summary.md,conformance-report.json,allure-results/}`,
    when: 'always',
  });
  if (isKind) {
    steps.push({
      id: 'diagnostics.kind-logs',
      phase: 'reports',
      description: 'on failure: export node, kubelet and container logs of the cluster',
      command: exportLogsArgv(kind.path, settings.clusterName, path.join(settings.runDir, 'kind-logs')),
      when: 'on-failure',
      timeout: 'logExport',
    });
  }

  // Cleanup, in reverse order of creation.
  if (settings.mode === 'existing') {
    steps.push({
      id: 'cleanup.namespaces',
      phase: 'cleanup',
      description: `delete every namespace labelled ${RUN_ID_LABEL}=${settings.runId} and wait until it is gone`,
      api: 'delete-namespaces',
      when: 'at-end',
      timeout: 'namespaceDelete',
    });
  }
  if (settings.mode === 'existing' && installIstio) {
    for (const r of [...profile.releases].reverse()) {
      steps.push({
        id: `cleanup.uninstall.${r.name}`,
        phase: 'cleanup',
        description: `uninstall ${r.name} (installed by this run; only if this run installed it)`,
        command: uninstallArgv(helm, r.name, istioNs, t.helmUninstall, target),
        when: 'at-end',
        timeout: 'helmUninstall',
      });
    }
  }
  if (settings.mode === 'existing') {
    steps.push({
      id: 'cleanup.marker',
      phase: 'cleanup',
      description: `delete the run marker Lease ${MARKER_NAMESPACE}/${markerName(settings.runId)}, last`,
      api: 'delete-marker',
      when: 'at-end',
      timeout: 'apiRequest',
    });
  }
  if (settings.mode === 'kind') {
    steps.push({
      id: 'cleanup.cluster',
      phase: 'cleanup',
      description: `delete kind cluster ${settings.clusterName} and everything in it${settings.keep ? ' (skipped: --keep)' : settings.keepOnFailure ? ' (kept instead if anything failed: --keep-on-failure)' : ''}; also on SIGINT/SIGTERM`,
      command: deleteArgv(kind.path, settings.clusterName, settings.kubeconfig),
      when: 'at-end',
      timeout: 'clusterDelete',
    });
  }
  return { steps };
}

function nodeSummary(profile: Profile): string {
  const nodes = Array.isArray(profile.kindConfig.nodes)
    ? (profile.kindConfig.nodes as { role?: string }[])
    : [{}];
  const cp = nodes.filter((n) => (n.role ?? 'control-plane') === 'control-plane').length;
  const w = nodes.length - cp;
  return `${cp} control-plane + ${w} worker${w === 1 ? '' : 's'}`;
}

function selectionText(s: RunSettings): string {
  const parts: string[] = [];
  if (s.only.length) parts.push(`only ${s.only.join(', ')}`);
  if (s.skip.length) parts.push(`skipping ${s.skip.join(', ')}`);
  return parts.length ? ` (${parts.join('; ')})` : '';
}

/** JSON contract of `plan --json`: id, description and (where a step runs one) command. */
export function planToJson(plan: Plan): {
  steps: { id: string; phase: Phase; description: string; when: Step['when']; command?: string[] }[];
} {
  return {
    steps: plan.steps.map((s) => ({
      id: s.id,
      phase: s.phase,
      description: s.description,
      when: s.when,
      ...(s.command ? { command: s.command } : {}),
    })),
  };
}
