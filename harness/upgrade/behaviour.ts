import { compareVersions, minorIndex, minorKey, parseVersion, type IstioVersion } from './version.ts';

/**
 * Behaviour changes an ambient upgrade can cross, curated from the charts, the code and the
 * release notes, each with its source. The plan lists those A lacks and B has; the version matrix
 * takes its version-dependent expectations (`expect`) from the same rows.
 *
 * A change is not a single version: a fix backported to older minors lands in a patch of each, and
 * a minor released before the backport lacks it in its first patches (istio/istio: the release
 * note xds-debug-namespace-auth.yaml is in tags 1.28.5 and 1.29.1 but not 1.29.0). So `since`
 * names the first patch per minor, and 1.28.5 → 1.29.0 loses the change rather than keeps it.
 *
 * To add one: the first patch with it in each minor (`since`, from the tags whose
 * releasenotes/notes/ hold its note), what changes and what it does to an ambient install, the
 * source (a file at a tag of istio/istio, or an istio.io page), and, when a compatibility profile
 * restores the old behaviour, the `compatibilityVersion` value.
 */
export interface BehaviourChange {
  id: string;
  /**
   * Per minor, the first patch with the change ("1.28" → "1.28.5"), or null when no patch of that
   * minor has it. A minor older than the oldest key never has it; a minor newer than the newest key
   * has it from its first release. Keys are consecutive minors (behaviour.test.ts holds that).
   */
  since: Readonly<Record<string, string | null>>;
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
    since: { '1.27': '1.27.6', '1.28': '1.28.4', '1.29': '1.29.0' },
    component: 'istiod',
    summary:
      'istiod’s debug endpoints on :15014 need authorization: non-system namespaces get only config_dump, ndsz and edsz of proxies in their own namespace',
    effect:
      'a tool that reads istiod debug endpoints from another namespace (Kiali, scripts) is refused; ENABLE_DEBUG_ENDPOINT_AUTH=false restores the old behaviour',
    source:
      'istio/istio@1.28.4 releasenotes/notes/debug-endpoint-authorization.yaml (in tags 1.27.6, 1.28.4 and 1.29.0 on)',
  },
  {
    id: 'xds-debug-auth',
    since: { '1.27': '1.27.8', '1.28': '1.28.5', '1.29': '1.29.1', '1.30': '1.30.0' },
    component: 'istiod',
    summary:
      'XDS debug endpoints (syncz, config_dump) on the plaintext XDS port 15010 require authentication (before, none), and the caller’s namespace is passed for authorization; controlled by ENABLE_DEBUG_ENDPOINT_AUTH, like the HTTP debug endpoints',
    effect:
      '`istioctl` commands using --plaintext and custom tooling using plaintext XDS stop working, from any namespace; ENABLE_DEBUG_ENDPOINT_AUTH=false restores the old behaviour',
    source:
      'istio/istio@1.29.1 releasenotes/notes/statusgen-xds-auth.yaml (upgrade note "XDS debug endpoints now require authentication") and xds-debug-namespace-auth.yaml; both in tags 1.27.8, 1.28.5, 1.29.1 and 1.30.0 on, not in 1.29.0 (release-1.29 commits 03e2e2d7411 and 6991a379e1f, after 1.29.0)',
  },
  {
    id: 'xds-debug-same-namespace',
    since: { '1.28': '1.28.7', '1.29': '1.29.3', '1.30': '1.30.0' },
    component: 'istiod',
    summary:
      'XDS debug endpoints (istio.io/debug/syncz, istio.io/debug/config_dump) served by StatusGen enforce same-namespace authorization for non-system callers',
    effect:
      'an authenticated workload outside istio-system sees only proxies of its own namespace through XDS debug (before, every namespace)',
    source:
      'istio/istio@1.29.3 releasenotes/notes/statusgen-xds-namespace.yaml (in tags 1.28.7, 1.29.3 and 1.30.0 on)',
  },
  {
    id: 'webhook-failure-policy-upgrade',
    since: { '1.28': '1.28.6', '1.29': '1.29.2', '1.30': '1.30.0' },
    component: 'charts',
    summary:
      'the base and istiod charts leave the validation webhook’s failurePolicy out of what `helm upgrade` applies (`.Release.IsUpgrade`), keeping the value istiod sets at run time; base.validationFailurePolicy sets it explicitly',
    effect:
      'Argo CD renders with `helm template` (never an upgrade), so its render still sets failurePolicy: Ignore, which istiod flips to Fail; set base.validationFailurePolicy: Fail to render what istiod sets, or keep ignoring that field',
    source:
      'istio/istio@1.29.2 releasenotes/notes/webhook-failurepolicy-upgrade.yaml (in tags 1.28.6, 1.29.2 and 1.30.0 on; not 1.29.0 or 1.29.1: backports f0bb50b077b to release-1.28, 3187b807f5d to release-1.29); manifests/charts/base/templates/defaultrevision-validatingwebhookconfiguration.yaml; argoproj/argo-cd@v3.5.1 util/helm/cmd.go template (no --is-upgrade)',
  },
  {
    id: 'cni-reconcile-existing-pods',
    since: { '1.29': '1.29.0' },
    component: 'istio-cni',
    summary:
      'the CNI agent rewrites the in-pod iptables/nftables rules of already-enrolled pods when it starts (cni.ambient.reconcileIptablesOnStartup defaults to true)',
    effect:
      'the CNI upgrade itself touches every enrolled pod’s rules on each node; pods need no restart to get the new rules',
    source:
      'istio/istio@1.29.6 manifests/charts/istio-cni/values.yaml (reconcileIptablesOnStartup: true, as at 1.29.0; false at 1.28.3 and 1.28.10); @1.30.3 files/profile-compatibility-version-1.28.yaml sets it back to false',
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
    since: { '1.29': '1.29.0' },
    component: 'istio-cni',
    summary: 'istio-cni-node pods get terminationGracePeriodSeconds 30 (was 5)',
    effect:
      'a CNI rollout takes up to 30 s per node (maxUnavailable 1), during which new pods on that node wait in sandbox creation',
    source:
      'istio/istio@1.29.6 manifests/charts/istio-cni/values.yaml (terminationGracePeriodSeconds: 30; absent in 1.28.3 and 1.28.10, whose DaemonSet template has 5)',
    expect: {
      name: 'istio-cni-node terminationGracePeriodSeconds',
      before: '5',
      from: '30',
      note: 'DaemonSet istio-cni-node pod template',
    },
  },
  {
    id: 'cni-conf-mode-0600',
    since: { '1.30': '1.30.0' },
    component: 'istio-cni',
    summary:
      'CNI config files Istio writes get mode 0600 (was 0644); CNI_CONF_GROUP_READ=true gives 0640. When Istio chains into the primary CNI’s own file (chained mode), that file keeps its existing mode',
    effect:
      'a check or tool that reads the CNI config as non-root stops working for Istio-owned files; kind’s chained kindnet file keeps its mode',
    source:
      'istio/istio@1.30.0 releasenotes/notes/59075.yaml (upgrade note "CNI config file permissions changed to 0600"; in no 1.28 or 1.29 tag); cni/pkg/install/cniconfig.go (fileMode: "when modifying the primary CNI config (chained, non-istio-owned), preserve the existing file\'s permissions")',
    expect: {
      name: 'CNI config file mode (Istio-owned file)',
      before: '0644',
      from: '0600',
      note: 'chained into the primary CNI’s file: that file’s mode is kept',
    },
  },
  {
    id: 'cni-agent-exclude-namespaces',
    since: { '1.30': '1.30.0' },
    component: 'istio-cni',
    summary:
      'the CNI agent honours excludeNamespaces: enrolled pods in an excluded namespace are un-enrolled, new ones are not enrolled (before, only the CNI plugin skipped them)',
    effect:
      'a meshed namespace listed in the CNI’s excludeNamespaces loses mTLS and policy at the CNI upgrade; the plan fails when it sees one',
    source:
      'istio/istio@1.30.0 releasenotes/notes/59295.yaml (upgrade note "CNI Agent respects excludeNamespaces configuration"; in no 1.28 or 1.29 tag); cni/pkg/nodeagent/informers.go (excludeNamespaces)',
  },
  {
    id: 'gateway-api-1.5',
    since: { '1.30': '1.30.0' },
    component: 'istiod',
    summary:
      'istiod reads TLSRoute at gateway.networking.k8s.io/v1, which the Gateway API v1.5 CRDs serve (v1.4.1’s TLSRoute CRD serves only v1alpha2 and v1alpha3); ReferenceGrant is still read at v1beta1',
    effect:
      'with Gateway API CRDs older than v1.5, istiod does not see TLSRoutes (TLS passthrough routes stop working); install the v1.5.x CRDs before the istiod upgrade if the cluster uses TLSRoute',
    source:
      'istio/istio@1.30.3 pkg/config/schema/gvr/resources.gen.go (TLSRoute Version "v1", ReferenceGrant Version "v1beta1"; at @1.29.6 TLSRoute is "v1alpha2"); go.mod (sigs.k8s.io/gateway-api v1.5.1); tests/integration/pilot/testdata/gateway-api-crd.yaml (bundle v1.5.1: tlsroutes serves v1; at @1.29.6, bundle v1.4.1: v1alpha2, v1alpha3); releasenotes/notes/tls-protocol-gateway-no-alpha-gate.yaml ("TLSRoute graduated to GA in Gateway API v1.5.0"); istio.io news/releases/1.31.x/announcing-1.31/change-notes ("TLS passthrough breakage after upgrading to 1.30 with stale CRDs")',
  },
  {
    id: 'default-hub-1.30',
    since: { '1.30': '1.30.0', '1.31': null },
    component: 'charts',
    summary:
      'the published 1.30 charts default their image hub to registry.istio.io/release (1.28, 1.29 and 1.31 use docker.io/istio), a registry Istio retires in December 2026',
    effect: 'set global.hub: docker.io/istio for every 1.30 hop (the plan does for its own runs)',
    source:
      'istio/release-builder@release-1.30 release/build.sh (DOCKER_HUB); istio.io blog retirement-of-gcr.io-follow-up (2026-07-23)',
  },
  {
    id: 'pick-best-service-namespace',
    since: { '1.30': '1.30.0' },
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
    since: { '1.31': '1.31.0' },
    component: 'charts',
    summary:
      '1.31 is not published on https://istio-release.storage.googleapis.com/charts, gcr.io/istio-release or registry.istio.io',
    effect: 'repoURL and hubs must point at blob.istio.io / ghcr.io / docker.io before the 1.31 hop',
    source:
      'istio.io blog "An update on our move to AWS" (2026-08-21); 1.31 upgrade notes ("From Istio 1.31 forwards, we will no longer publish artifacts to …")',
  },
];

/** Minors of `since`, oldest first. */
function sinceMinors(c: BehaviourChange): string[] {
  return Object.keys(c.since).sort(
    (a, b) => minorIndex(parseVersion(`${a}.0`)) - minorIndex(parseVersion(`${b}.0`)),
  );
}

function byId(id: string): BehaviourChange | undefined {
  return BEHAVIOUR_CHANGES.find((x) => x.id === id);
}

/**
 * Whether `version` has the change: its minor's first patch with it (null: none of that minor);
 * a minor older than every key never has it, one newer than every key is like the newest key.
 * A pre-release counts as before its release (1.30.0-rc.0 lacks what 1.30.0 has).
 */
export function hasChange(version: string | IstioVersion, change: string | BehaviourChange): boolean {
  const c = typeof change === 'string' ? byId(change) : change;
  if (c === undefined) return false;
  const v = typeof version === 'string' ? parseVersion(version) : version;
  const key = minorKey(v);
  if (Object.hasOwn(c.since, key)) {
    const first = c.since[key];
    return first !== null && first !== undefined && compareVersions(v, first) >= 0;
  }
  const minors = sinceMinors(c);
  const oldest = minors[0];
  const newest = minors.at(-1);
  if (oldest === undefined || newest === undefined) return false;
  if (minorIndex(v) < minorIndex(parseVersion(`${oldest}.0`))) return false;
  if (minorIndex(v) > minorIndex(parseVersion(`${newest}.0`))) return c.since[newest] !== null;
  return false; // a gap between keys (behaviour.test.ts refuses one)
}

/** The changes `from` lacks and `to` has: crossed going from → to. */
export function changesCrossing(from: string, to: string): BehaviourChange[] {
  return BEHAVIOUR_CHANGES.filter((c) => !hasChange(from, c) && hasChange(to, c));
}

/**
 * The changes `from` has and `to` lacks: a backport `to`'s minor got only in a later patch
 * (1.28.5 → 1.29.0 loses the XDS debug authentication 1.29.1 brings back), or a minor that
 * reverts the change (`since` null).
 */
export function changesLost(from: string, to: string): BehaviourChange[] {
  return BEHAVIOUR_CHANGES.filter((c) => hasChange(from, c) && !hasChange(to, c));
}

/** The first patch of `version`'s minor with the change, when that minor has it. */
export function firstPatchWith(c: BehaviourChange, version: string): string | undefined {
  const v = parseVersion(version);
  const key = minorKey(v);
  if (Object.hasOwn(c.since, key)) return c.since[key] ?? undefined;
  return hasChange(`${key}.0`, c) ? `${key}.0` : undefined;
}

/**
 * The first patch per minor, "1.28.5, 1.29.1, 1.30.0", from the minor of `from` on when given;
 * a minor without the change reads "none in 1.31".
 */
export function describeSince(c: BehaviourChange, from?: string): string {
  const floor = from === undefined ? -Infinity : minorIndex(parseVersion(from));
  return sinceMinors(c)
    .filter((m) => minorIndex(parseVersion(`${m}.0`)) >= floor)
    .map((m) => c.since[m] ?? `none in ${m}`)
    .join(', ');
}

/** The expectations a cluster check should hold for `version` (for the version matrix). */
export function expectationsFor(
  version: string,
): { id: string; name: string; value: string; note: string }[] {
  return BEHAVIOUR_CHANGES.filter((c) => c.expect !== undefined).map((c) => {
    const e = c.expect as NonNullable<BehaviourChange['expect']>;
    return { id: c.id, name: e.name, value: hasChange(version, c) ? e.from : e.before, note: e.note };
  });
}
