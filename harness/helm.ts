import type { OperationError } from './errors.ts';
import { explainChartDownload } from './istio/hosts.ts';
import { run, commandFailed, type ExecResult } from './exec.ts';
import { formatSeconds } from './timeouts.ts';

/** The helm binary as the plan sees it: its path and major version (3 and 4 differ in flags). */
export interface HelmTool {
  path: string;
  major: 3 | 4;
}

export interface KubeTarget {
  kubeconfig: string;
  context?: string;
}

export interface ChartRef {
  /** https repository URL or oci:// registry path (without the chart name). */
  repository: string;
  chart: string;
  version: string;
}

function kubeFlags(t: KubeTarget): string[] {
  return ['--kubeconfig', t.kubeconfig, ...(t.context ? ['--kube-context', t.context] : [])];
}

/** Chart reference argv: `oci://…/chart` or `chart --repo URL` (no `helm repo add`: the user's repo config is left alone). */
export function chartArgs(ref: ChartRef): string[] {
  if (ref.repository.startsWith('oci://')) return [`${ref.repository.replace(/\/+$/, '')}/${ref.chart}`];
  return [ref.chart, '--repo', ref.repository];
}

/**
 * `--wait`: a boolean in Helm 3; a strategy in Helm 4, where a bare --wait means "watcher" and
 * omitting it means "hookOnly" (helm v4 pkg/cmd/flags.go AddWaitFlag). Spelled out for Helm 4.
 */
export function waitFlag(helm: HelmTool): string {
  return helm.major === 4 ? '--wait=watcher' : '--wait';
}

export interface InstallArgs {
  release: string;
  namespace: string;
  chart: ChartRef;
  valuesFiles: string[];
  /** --set entries, in order. */
  set?: string[];
  timeoutMs: number;
  createNamespace: boolean;
  /** `upgrade --install` (re-using a cluster) instead of a plain `install`. */
  upgrade: boolean;
}

/**
 * helm install (or upgrade --install) argv.
 * Helm 4 upgrades apply server-side and, with Istio 1.28.3's charts, conflict with istiod's own
 * field manager on webhook failurePolicy (fixed upstream in 1.28.6, istio PR #59367); Helm 4
 * upgrades therefore pass --force-conflicts.
 */
export function installArgv(helm: HelmTool, a: InstallArgs, target: KubeTarget): string[] {
  const argv = [
    helm.path,
    ...(a.upgrade ? ['upgrade', '--install'] : ['install']),
    a.release,
    ...chartArgs(a.chart),
  ];
  argv.push('--version', a.chart.version, '--namespace', a.namespace);
  if (a.createNamespace) argv.push('--create-namespace');
  for (const f of a.valuesFiles) argv.push('--values', f);
  for (const s of a.set ?? []) argv.push('--set', s);
  argv.push(waitFlag(helm), '--timeout', formatSeconds(a.timeoutMs));
  // --force-conflicts needs server-side apply; Helm 4's upgrade defaults --server-side to "auto",
  // which follows the previous release's method, so a release last applied client-side (by Helm 3)
  // fails with "forceConflicts enabled when serverSideApply disabled" (helm v4.2.1
  // pkg/cmd/upgrade.go, pkg/kube/client.go). Say server-side explicitly.
  if (a.upgrade && helm.major === 4) argv.push('--server-side=true', '--force-conflicts');
  argv.push(...kubeFlags(target));
  return argv;
}

/**
 * helm uninstall argv. `--wait` exists from Helm v3.7.0 (absent from v3.6.0's
 * cmd/helm/uninstall.go), which is the oldest Helm this suite accepts (tools.ts MINIMUM).
 */
export function uninstallArgv(
  helm: HelmTool,
  release: string,
  namespace: string,
  timeoutMs: number,
  target: KubeTarget,
): string[] {
  return [
    helm.path,
    'uninstall',
    release,
    '--namespace',
    namespace,
    helm.major === 4 ? '--wait=watcher' : '--wait',
    '--timeout',
    formatSeconds(timeoutMs),
    ...kubeFlags(target),
  ];
}

/**
 * The one `helm list` argv: releases of every status in every namespace. Helm 3 shows only
 * deployed and failed releases unless given `--all`; Helm 4 removed `--all` and lists every
 * status by default (helm v4.0.0 pkg/cmd/list.go has no "all" flag; v3 cmd/helm/list.go does).
 */
export function listArgv(helm: HelmTool, target: KubeTarget): string[] {
  return [
    helm.path,
    'list',
    '--all-namespaces',
    ...(helm.major === 3 ? ['--all'] : []),
    '--output',
    'json',
    ...kubeFlags(target),
  ];
}

/** One row of `helm list -o json` (the same keys in Helm 3 and 4). */
export interface HelmReleaseRow {
  name: string;
  namespace: string;
  revision: string;
  updated: string;
  status: string;
  chart: string;
  app_version: string;
}

export function parseHelmList(stdout: string): HelmReleaseRow[] {
  const text = stdout.trim();
  if (text === '') return [];
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed)) throw new Error('helm list -o json: expected a JSON array');
  return parsed as HelmReleaseRow[];
}

/** "cni-1.28.3" -> { chart: "cni", version: "1.28.3" } */
export function splitChartColumn(chart: string): { chart: string; version: string } {
  const m = /^(.*)-(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$/.exec(chart);
  return m ? { chart: m[1] ?? chart, version: m[2] ?? '' } : { chart, version: '' };
}

export async function helmList(
  helm: HelmTool,
  target: KubeTarget,
  timeoutMs: number,
): Promise<HelmReleaseRow[]> {
  const r = await run(listArgv(helm, target), { timeoutMs });
  if (r.exitCode !== 0) throw commandFailed('helm list', r, timeoutMs);
  return parseHelmList(r.stdout);
}

/**
 * Classifies a failed helm install/upgrade so the error says how to fix it. `chart` is what the
 * command tried to install: a failed chart download names that repository and, for one of
 * Istio's retired hosts, its replacement (istio/hosts.ts).
 */
export function explainHelmFailure(
  release: string,
  r: ExecResult,
  timeoutMs: number,
  chart?: ChartRef,
): OperationError {
  const out = `${r.stderr}\n${r.stdout}`;
  let fix = `inspect with: helm status ${release} -n <namespace>; kubectl get pods -n <namespace>`;
  const download = chart && explainChartDownload(chart.repository, chart.chart, chart.version, out);
  if (download) {
    return commandFailed(
      `helm install ${release}: the chart download failed (${download.tried})`,
      r,
      timeoutMs,
      download.fix,
    );
  }
  // Helm 3: "cannot re-use a name"; Helm 4: "cannot reuse a name" (test/fixtures/helm).
  if (/cannot re-?use a name that is still in use/.test(out))
    fix = `release ${release} already exists: use --reuse for a cluster of this tool, or uninstall it first`;
  else if (/conflict with "pilot-discovery"|conflicts with "pilot-discovery"/.test(out))
    fix =
      'Helm 4 server-side apply conflicts with istiod on webhook failurePolicy (Istio < 1.28.6): upgrade with --force-conflicts or use Helm 3';
  else if (/unknown platform/.test(out)) fix = 'remove global.platform from the values: kind needs none';
  else if (/context deadline exceeded|timed out waiting for the condition/.test(out))
    fix =
      'pods did not become Ready in time: see the diagnostics (events, pod describe) and raise AMBIENT_TIMEOUT_HELM_INSTALL on slow runners';
  else if (
    /no such host|dial tcp|i\/o timeout|connection refused/.test(out) &&
    /repo|index\.yaml|oci|charts/i.test(out)
  )
    fix =
      'the chart repository is not reachable: check network access or mirror the charts and set istio.chartRepository';
  return commandFailed(`helm install ${release}`, r, timeoutMs, fix);
}
