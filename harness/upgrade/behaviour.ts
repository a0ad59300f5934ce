import { compareVersions, parseVersion } from './version.ts';

/**
 * Behaviour changes an ambient upgrade can cross, curated from the charts, the code and the
 * release notes, each with its source. The plan lists those whose version lies in (A, B]; the
 * version matrix takes its version-dependent expectations (`expect`) from the same rows.
 *
 * To add one: the first version that has it (`since`), what changes and what it does to an ambient
 * install, the source (a file at a tag of istio/istio, or an istio.io page), and, when a
 * compatibility profile restores the old behaviour, the `compatibilityVersion` value.
 */
export interface BehaviourChange {
  id: string;
  /** The first version with the change, e.g. "1.29.0" (patch backports name their patch). */
  since: string;
  component: 'istiod' | 'istio-cni' | 'ztunnel' | 'charts' | 'all';
  summary: string;
  /** What it means for an ambient install and what to do. */
  effect: string;
  source: string;
  /** `compatibilityVersion=<A's minor>` restores the old default (files/profile-compatibility-version-*.yaml). */
  compatibility?: string;
  /** A version-dependent expectation a cluster check can use: name, value before, value from `since`. */
  expect?: { name: string; before: string; from: string; note: string };
}

export const BEHAVIOUR_CHANGES: readonly BehaviourChange[] = [
  {
    id: 'debug-endpoint-auth',
    since: '1.28.4',
    component: 'istiod',
    summary:
      'istiod’s debug endpoints on :15014 need authorization: non-system namespaces get only config_dump, ndsz and edsz of proxies in their own namespace',
    effect:
      'a tool that reads istiod debug endpoints from another namespace (Kiali, scripts) is refused; ENABLE_DEBUG_ENDPOINT_AUTH=false restores the old behaviour',
    source: 'istio/istio@1.28.4 releasenotes/notes/debug-endpoint-authorization.yaml (first in tag 1.28.4)',
  },
  {
    id: 'xds-debug-auth',
    since: '1.28.5',
    component: 'istiod',
    summary: 'XDS debug requests carry the caller’s namespace and are authorized like the debug endpoints',
    effect: '`istioctl … --plaintext` debug calls from outside istio-system stop working',
    source:
      'istio/istio@1.28.5 and @1.30.0 releasenotes/notes/xds-debug-namespace-auth.yaml (not in tag 1.29.0)',
  },
  {
    id: 'cni-reconcile-existing-pods',
    since: '1.29.0',
    component: 'istio-cni',
    summary:
      'the CNI agent rewrites the in-pod iptables/nftables rules of already-enrolled pods when it starts (cni.ambient.reconcileIptablesOnStartup defaults to true)',
    effect:
      'the CNI upgrade itself touches every enrolled pod’s rules on each node; pods need no restart to get the new rules',
    source:
      'istio/istio@1.29.6 manifests/charts/istio-cni/values.yaml (reconcileIptablesOnStartup: true; false in 1.28.3); @1.30.3 files/profile-compatibility-version-1.28.yaml sets it back to false',
    compatibility: '1.28',
    expect: {
      name: 'AMBIENT_RECONCILE_POD_RULES_ON_STARTUP',
      before: 'false',
      from: 'true',
      note: 'in ConfigMap istio-cni-config (rendered from the values above)',
    },
  },
  {
    id: 'cni-grace-period',
    since: '1.29.0',
    component: 'istio-cni',
    summary: 'istio-cni-node pods get terminationGracePeriodSeconds 30 (was 5)',
    effect:
      'a CNI rollout takes up to 30 s per node (maxUnavailable 1), during which new pods on that node wait in sandbox creation',
    source:
      'istio/istio@1.29.6 manifests/charts/istio-cni/values.yaml (terminationGracePeriodSeconds: 30; absent in 1.28.3, whose DaemonSet template has 5)',
    expect: {
      name: 'istio-cni-node terminationGracePeriodSeconds',
      before: '5',
      from: '30',
      note: 'DaemonSet istio-cni-node pod template',
    },
  },
  {
    id: 'cni-conf-mode-0600',
    since: '1.30.0',
    component: 'istio-cni',
    summary:
      'CNI config files Istio writes get mode 0600 (was 0644); CNI_CONF_GROUP_READ=true gives 0640. When Istio chains into the primary CNI’s own file (chained mode), that file keeps its existing mode',
    effect:
      'a check or tool that reads the CNI config as non-root stops working for Istio-owned files; kind’s chained kindnet file keeps its mode',
    source:
      'istio/istio@1.30.0 releasenotes/notes/59075.yaml (upgrade note "CNI config file permissions changed to 0600"); cni/pkg/install/cniconfig.go (fileMode: "when modifying the primary CNI config (chained, non-istio-owned), preserve the existing file\'s permissions")',
    expect: {
      name: 'CNI config file mode (Istio-owned file)',
      before: '0644',
      from: '0600',
      note: 'chained into the primary CNI’s file: that file’s mode is kept',
    },
  },
  {
    id: 'cni-agent-exclude-namespaces',
    since: '1.30.0',
    component: 'istio-cni',
    summary:
      'the CNI agent honours excludeNamespaces: enrolled pods in an excluded namespace are un-enrolled, new ones are not enrolled (before, only the CNI plugin skipped them)',
    effect:
      'a meshed namespace listed in the CNI’s excludeNamespaces loses mTLS and policy at the CNI upgrade; the plan fails when it sees one',
    source:
      'istio/istio@1.30.0 releasenotes/notes/59295.yaml (upgrade note "CNI Agent respects excludeNamespaces configuration"); cni/pkg/nodeagent/informers.go (excludeNamespaces)',
  },
  {
    id: 'gateway-api-1.5',
    since: '1.30.0',
    component: 'istiod',
    summary:
      'istiod reads TLSRoute and ReferenceGrant from Gateway API v1 (Gateway API v1.5.1); with older CRDs those resources are invisible to istiod',
    effect: 'install the Gateway API v1.5.x CRDs before the istiod upgrade if the cluster uses Gateway API',
    source:
      'istio.io news/releases/1.30.x/announcing-1.30/upgrade-notes ("Gateway API CRDs must be upgraded to v1.5.x"); istio/istio@1.30.3 go.mod (sigs.k8s.io/gateway-api v1.5.1)',
  },
  {
    id: 'default-hub-1.30',
    since: '1.30.0',
    component: 'charts',
    summary:
      'the published 1.30 charts default their image hub to registry.istio.io/release (1.28, 1.29 and 1.31 use docker.io/istio), a registry Istio retires in December 2026',
    effect: 'set global.hub: docker.io/istio for every 1.30 hop (the plan does for its own runs)',
    source:
      'istio/release-builder@release-1.30 release/build.sh (DOCKER_HUB); istio.io blog retirement-of-gcr.io-follow-up (2026-07-23)',
  },
  {
    id: 'pick-best-service-namespace',
    since: '1.30.0',
    component: 'istiod',
    summary:
      'PILOT_SIDECAR_PICK_BEST_SERVICE_NAMESPACE defaults to true (sidecars pick the best service namespace)',
    effect: 'sidecar and gateway routing only; ambient pods are not affected',
    source:
      'istio/istio@1.30.3 manifests/charts/istio-control/istio-discovery/files/profile-compatibility-version-1.29.yaml',
    compatibility: '1.29',
  },
  {
    id: 'not-on-retired-hosts',
    since: '1.31.0',
    component: 'charts',
    summary:
      '1.31 is not published on https://istio-release.storage.googleapis.com/charts, gcr.io/istio-release or registry.istio.io',
    effect: 'repoURL and hubs must point at blob.istio.io / ghcr.io / docker.io before the 1.31 hop',
    source:
      'istio.io blog "An update on our move to AWS" (2026-08-21); 1.31 upgrade notes ("From Istio 1.31 forwards, we will no longer publish artifacts to …")',
  },
];

/** The changes whose first version lies in (from, to]. */
export function changesCrossing(from: string, to: string): BehaviourChange[] {
  const a = parseVersion(from);
  const b = parseVersion(to);
  return BEHAVIOUR_CHANGES.filter((c) => {
    const s = parseVersion(c.since);
    return compareVersions(s, a) > 0 && compareVersions(s, b) <= 0;
  });
}

/** Whether `version` has the change `id` (false for an unknown id). */
export function hasChange(version: string, id: string): boolean {
  const c = BEHAVIOUR_CHANGES.find((x) => x.id === id);
  return c !== undefined && compareVersions(parseVersion(version), parseVersion(c.since)) >= 0;
}

/** The expectations a cluster check should hold for `version` (for the version matrix). */
export function expectationsFor(
  version: string,
): { id: string; name: string; value: string; note: string }[] {
  return BEHAVIOUR_CHANGES.filter((c) => c.expect !== undefined).map((c) => {
    const e = c.expect as NonNullable<BehaviourChange['expect']>;
    return { id: c.id, name: e.name, value: hasChange(version, c.id) ? e.from : e.before, note: e.note };
  });
}
