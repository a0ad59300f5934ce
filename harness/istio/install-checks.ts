import { gunzipSync } from 'node:zlib';
import type { V1ConfigMap, V1Deployment, V1Pod, V1Secret } from '@kubernetes/client-node';

/**
 * Pure checks of an Istio ambient installation, on the objects the API returns.
 * Names and keys are the 1.28 charts': Deployment istiod (container "discovery"), DaemonSets
 * istio-cni-node and ztunnel, ConfigMap istio-cni-config (AMBIENT_ENABLED, from
 * manifests/charts/istio-cni/templates/configmap-cni.yaml).
 */

export const REDIRECTION_ANNOTATION = 'ambient.istio.io/redirection';
export const SIDECAR_STATUS_ANNOTATION = 'sidecar.istio.io/status';

/** The metadata Helm keeps per release revision (Secret sh.helm.release.v1.<name>.v<rev>, type helm.sh/release.v1). */
export interface HelmReleaseRecord {
  name: string;
  namespace: string;
  revision: number;
  status: string;
  chart: string;
  chartVersion: string;
  firstDeployed: string;
  lastDeployed: string;
}

/**
 * Decodes a Helm release Secret: data.release is base64 (the API's) of base64 (Helm's) of gzip of
 * the release JSON. Only metadata is kept; the values (which may hold secrets) are dropped.
 */
export function decodeHelmReleaseSecret(secret: V1Secret): HelmReleaseRecord | undefined {
  const raw = secret.data?.release;
  if (secret.type !== 'helm.sh/release.v1' || raw === undefined) return undefined;
  const helmEncoded = Buffer.from(raw, 'base64').toString('utf8');
  let bytes = Buffer.from(helmEncoded, 'base64');
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const rel = JSON.parse(bytes.toString('utf8')) as {
    name: string;
    namespace: string;
    version: number;
    info?: { status?: string; first_deployed?: string; last_deployed?: string };
    chart?: { metadata?: { name?: string; version?: string } };
  };
  return {
    name: rel.name,
    namespace: rel.namespace,
    revision: rel.version,
    status: rel.info?.status ?? 'unknown',
    chart: rel.chart?.metadata?.name ?? 'unknown',
    chartVersion: rel.chart?.metadata?.version ?? 'unknown',
    firstDeployed: rel.info?.first_deployed ?? '',
    lastDeployed: rel.info?.last_deployed ?? '',
  };
}

/** The newest revision of each release. */
export function latestRevisions(records: HelmReleaseRecord[]): Map<string, HelmReleaseRecord> {
  const m = new Map<string, HelmReleaseRecord>();
  for (const r of records) {
    const prev = m.get(r.name);
    if (!prev || r.revision > prev.revision) m.set(r.name, r);
  }
  return m;
}

export interface ExpectedRelease {
  name: string;
  chart: string;
  syncWave: number;
}

/**
 * INSTALL-01: each expected release deployed, from the expected chart at the expected version,
 * and first deployed in ascending wave order. Returns the problems (empty when conformant).
 */
export function judgeReleases(
  expected: ExpectedRelease[],
  records: HelmReleaseRecord[],
  version: string,
): string[] {
  const latest = latestRevisions(records);
  const problems: string[] = [];
  for (const e of expected) {
    const r = latest.get(e.name);
    if (!r) {
      problems.push(`release ${e.name}: not found (expected chart ${e.chart} ${version})`);
      continue;
    }
    if (r.status !== 'deployed') problems.push(`release ${e.name}: status ${r.status}, expected deployed`);
    if (r.chart !== e.chart) problems.push(`release ${e.name}: chart ${r.chart}, expected ${e.chart}`);
    if (r.chartVersion !== version)
      problems.push(`release ${e.name}: chart version ${r.chartVersion}, expected ${version}`);
  }
  const ordered = [...expected].sort((a, b) => a.syncWave - b.syncWave);
  for (let i = 1; i < ordered.length; i++) {
    const prev = latest.get(ordered[i - 1]?.name ?? '');
    const cur = latest.get(ordered[i]?.name ?? '');
    if (!prev || !cur || !prev.firstDeployed || !cur.firstDeployed) continue;
    if (Date.parse(cur.firstDeployed) < Date.parse(prev.firstDeployed))
      problems.push(
        `release ${cur.name} (wave ${ordered[i]?.syncWave}) was first deployed at ${cur.firstDeployed}, before ${prev.name} (wave ${ordered[i - 1]?.syncWave}) at ${prev.firstDeployed}`,
      );
  }
  return problems;
}

export function envOf(deploy: V1Deployment, container: string, name: string): string | undefined {
  const c = deploy.spec?.template.spec?.containers.find((x) => x.name === container);
  return c?.env?.find((e) => e.name === name)?.value;
}

/** INSTALL-03: ambient switched on in istiod and in the CNI agent. */
export function judgeAmbientEnabled(istiod: V1Deployment, cniConfig: V1ConfigMap): string[] {
  const problems: string[] = [];
  const pilot = envOf(istiod, 'discovery', 'PILOT_ENABLE_AMBIENT');
  if (pilot !== 'true')
    problems.push(
      `istiod container "discovery" has PILOT_ENABLE_AMBIENT=${pilot ?? '(unset)'}, expected true (install istiod with profile=ambient)`,
    );
  const cni = cniConfig.data?.AMBIENT_ENABLED;
  if (cni !== 'true')
    problems.push(
      `ConfigMap istio-cni-config has AMBIENT_ENABLED=${cni ?? '(unset)'}, expected "true" (install the cni chart with profile=ambient)`,
    );
  return problems;
}

/**
 * INSTALL-04 for one pod: captured by istio-cni (annotation redirection=enabled) and running exactly
 * the containers its spec declares — no injected sidecar, no injected init container.
 */
export function judgeEnrolledPod(
  pod: V1Pod,
  declaredContainers: string[],
  declaredInit: string[] = [],
): string[] {
  const name = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
  const problems: string[] = [];
  const redirection = pod.metadata?.annotations?.[REDIRECTION_ANNOTATION];
  if (redirection !== 'enabled')
    problems.push(
      `${name}: annotation ${REDIRECTION_ANNOTATION}=${redirection ?? '(absent)'}, expected enabled`,
    );
  const containers = (pod.spec?.containers ?? []).map((c) => c.name);
  const init = (pod.spec?.initContainers ?? []).map((c) => c.name);
  const extra = containers.filter((c) => !declaredContainers.includes(c));
  const extraInit = init.filter((c) => !declaredInit.includes(c));
  if (extra.length)
    problems.push(`${name}: containers added to the spec: ${extra.join(', ')} (a sidecar was injected)`);
  if (extraInit.length) problems.push(`${name}: init containers added: ${extraInit.join(', ')}`);
  if (pod.metadata?.annotations?.[SIDECAR_STATUS_ANNOTATION] !== undefined)
    problems.push(`${name}: carries ${SIDECAR_STATUS_ANNOTATION} (sidecar injection happened)`);
  return problems;
}

/** Pods of a meshed namespace that istio-cni should have captured: running, not opted out, not host-network. */
export function shouldBeCaptured(pod: V1Pod): boolean {
  return (
    pod.status?.phase === 'Running' &&
    pod.metadata?.labels?.['istio.io/dataplane-mode'] !== 'none' &&
    pod.spec?.hostNetwork !== true &&
    pod.metadata?.annotations?.[SIDECAR_STATUS_ANNOTATION] === undefined
  );
}
