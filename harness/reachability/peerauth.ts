import type { PeerAuthenticationInfo, PeerAuthMode } from './mesh.ts';
import type { PodInfo } from './types.ts';

/**
 * PeerAuthentication as istiod 1.28.3 hands it to ztunnel, and what ztunnel then does with a
 * connection to one pod and port.
 *
 * Sources, all at istio/istio tag 1.28.3:
 * - pilot/pkg/serviceregistry/kube/controller/ambient/workloads.go fetchPeerAuthentications: a
 *   pod's candidates are the root namespace's policies without a selector, and its own
 *   namespace's policies whose selector is absent or whose matchLabels are a subset of its labels.
 * - authorization.go convertedSelectorPeerAuthentications: among the candidates, a policy with no
 *   matchLabels is the mesh policy (root namespace) or the namespace policy; one with matchLabels
 *   outside the root namespace is the workload policy; at each level the oldest wins. The modes
 *   resolve mesh → namespace → workload (UNSET inherits; DISABLE counts as PERMISSIVE), and the
 *   workload is given istiod's static STRICT policy (`istio_converted_static_strict`, a DENY of
 *   connections without a principal) and/or its workload policy's converted form.
 * - authorization.go convertPeerAuthentication: the converted form of a workload policy with
 *   portLevelMtls, a DENY made of OR'd groups of AND'ed rules; it reads the namespace and root
 *   policies that have no selector at all (policies.go PeerAuthByNamespace).
 * - istio/ztunnel 1.28.3 src/rbac.rs Authorization::matches: a policy's groups are OR'd, a group's
 *   rules AND'ed, a rule's matches OR'd; a DENY that matches resets the connection.
 *
 * The quirks of that code are kept, because they are what a cluster does: for example a workload
 * policy with no mode and a PERMISSIVE port, in a namespace whose own policy has no mode under a
 * STRICT mesh policy, leaves the whole pod without STRICT (convertPeerAuthentication skips the
 * port while convertedSelectorPeerAuthentications drops the static STRICT policy).
 */

/** One match of a converted rule: every present field must hold. */
interface PaMatch {
  /** `notPrincipals: [presence]`: matches a connection without a peer identity. */
  noPrincipal?: true;
  destinationPort?: number;
  notDestinationPort?: number;
}

/** The converted DENY policy: groups OR'd, each group's rules AND'ed, a rule's matches OR'd. */
export interface ConvertedPeerAuthentication {
  key: string;
  groups: PaMatch[][][];
}

export interface PeerAuthDecision {
  /** `<root>/istio_converted_static_strict` is attached to the workload. */
  staticStrict: boolean;
  /** The workload policy's converted form, when istiod attaches it and it exists. */
  converted?: ConvertedPeerAuthentication;
  /** The policies that decided, by level, for reasons. */
  mesh?: PeerAuthenticationInfo;
  namespace?: PeerAuthenticationInfo;
  workload?: PeerAuthenticationInfo;
  /** Things a reader should know: competing policies, a referenced policy istiod never built. */
  notes: string[];
}

const STATIC_STRICT = 'istio_converted_static_strict';

const isStrict = (m: PeerAuthMode | undefined) => m === 'STRICT';
const isUnset = (m: PeerAuthMode | undefined) => m === undefined || m === 'UNSET';
const isLenient = (m: PeerAuthMode | undefined) => m === 'PERMISSIVE' || m === 'DISABLE';

const hasMatchLabels = (p: PeerAuthenticationInfo) => Object.keys(p.selector?.matchLabels ?? {}).length > 0;

function subsetOf(want: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => labels[k] === v);
}

/**
 * The oldest policy by metadata.creationTimestamp. Among equal timestamps istiod's ambient index
 * keeps whichever it iterates first (a cache order, not fixed), while the sidecar path sorts ties
 * by name, then namespace (pilot/pkg/model/config.go sortConfigByCreationTime), so `tieByName`
 * settles them. A policy without a timestamp (manifests rarely carry one) leaves the answer open:
 * the first given is taken, and `determined` says so.
 */
function oldest(
  list: PeerAuthenticationInfo[],
  tieByName = false,
): { p: PeerAuthenticationInfo | undefined; determined: boolean } {
  if (list.length <= 1) return { p: list[0], determined: true };
  if (list.some((p) => p.creationTimestamp === undefined)) return { p: list[0], determined: false };
  const t = (p: PeerAuthenticationInfo) => Date.parse(p.creationTimestamp ?? '');
  const first = Math.min(...list.map(t));
  const tied = list.filter((p) => t(p) === first);
  if (tied.length === 1 || !tieByName) return { p: tied[0], determined: tied.length === 1 };
  const byName = [...tied].sort((a, b) =>
    a.name !== b.name ? (a.name < b.name ? -1 : 1) : a.namespace < b.namespace ? -1 : 1,
  );
  return { p: byName[0], determined: true };
}

/** The name ztunnel knows a converted workload PeerAuthentication by (pilot/pkg/model/authentication.go GetAmbientPolicyConfigName). */
const convertedName = (p: PeerAuthenticationInfo) => `${p.namespace}/converted_peer_authentication_${p.name}`;

const keyOf = (p: PeerAuthenticationInfo) => `${p.namespace}/${p.name}`;

function pick(
  list: PeerAuthenticationInfo[],
  level: string,
  notes: string[],
  tieByName = false,
): PeerAuthenticationInfo | undefined {
  const { p, determined } = oldest(list, tieByName);
  if (p && list.length > 1)
    notes.push(
      `${list.length} ${level} PeerAuthentications compete (${list.map(keyOf).join(', ')}); istiod uses the oldest by creationTimestamp${tieByName ? ' (ties by name)' : ''}, ${
        determined
          ? keyOf(p)
          : `which these manifests do not settle (${
              list.some((x) => x.creationTimestamp === undefined)
                ? 'a creationTimestamp missing'
                : 'tied creationTimestamps, which istiod’s ambient index breaks in no fixed order'
            }), so the matrix takes the first given, ${keyOf(p)}, and a cluster may differ`
      }`,
    );
  return p;
}

/**
 * istiod's conversion of a workload PeerAuthentication with portLevelMtls (convertPeerAuthentication),
 * given the namespace and root policies that have no selector. undefined when istiod converts it
 * to nothing.
 */
export function convertPeerAuthentication(
  root: string,
  cfg: PeerAuthenticationInfo,
  nsCfg: PeerAuthenticationInfo | undefined,
  rootCfg: PeerAuthenticationInfo | undefined,
): ConvertedPeerAuthentication | undefined {
  const ports = Object.entries(cfg.portLevelMtls ?? {})
    .map(([p, m]) => [Number(p), m] as const)
    .sort((a, b) => a[0] - b[0]);
  if (cfg.namespace === root || cfg.selector === undefined || ports.length === 0) return undefined;
  const mode = cfg.mode;
  const rules: PaMatch[][] = [];
  const groups: PaMatch[][][] = [];
  if (isStrict(mode)) rules.push([{ noPrincipal: true }]);
  let foundNonStrict = false;
  for (const [port, portMode] of ports) {
    if (isStrict(portMode)) {
      // Enforced by the parent policy already. Go's precedence makes the last term stand alone:
      // a STRICT root policy under an absent or UNSET namespace policy skips the port whatever
      // the workload's own mode.
      if (
        isStrict(mode) ||
        (isUnset(mode) && nsCfg !== undefined && isStrict(nsCfg.mode)) ||
        ((nsCfg === undefined || isUnset(nsCfg.mode)) && rootCfg !== undefined && isStrict(rootCfg.mode))
      )
        continue;
      groups.push([[{ noPrincipal: true, destinationPort: port }]]);
    } else if (isLenient(portMode)) {
      if (isLenient(mode)) continue;
      if (
        isUnset(mode) &&
        ((nsCfg !== undefined && !isStrict(nsCfg.mode)) ||
          (nsCfg === undefined && rootCfg !== undefined && !isStrict(rootCfg.mode)) ||
          (nsCfg === undefined && rootCfg === undefined))
      )
        continue;
      foundNonStrict = true;
      rules.push([{ notDestinationPort: port }]);
    }
  }
  if (isStrict(mode) && !foundNonStrict) return undefined;
  if (!rules.length && !groups.length) return undefined;
  const shouldMergeStrict =
    (rootCfg !== undefined &&
      isStrict(rootCfg.mode) &&
      (nsCfg === undefined || isUnset(nsCfg.mode) || isStrict(nsCfg.mode))) ||
    (nsCfg !== undefined && isStrict(nsCfg.mode));
  if (shouldMergeStrict && foundNonStrict) rules.push([{ noPrincipal: true }]);
  if (rules.length) groups.push(rules);
  return { key: convertedName(cfg), groups };
}

/**
 * The mesh, namespace and workload policy among a pod's candidates, as both
 * convertedSelectorPeerAuthentications (ambient) and ComposePeerAuthentication (sidecars) pick
 * them: no matchLabels in the root namespace is the mesh policy, elsewhere the namespace policy;
 * matchLabels outside the root namespace make a workload policy; the oldest wins at each level.
 */
function levels(
  candidates: PeerAuthenticationInfo[],
  root: string,
  notes: string[],
  tieByName = false,
): {
  meshCfg: PeerAuthenticationInfo | undefined;
  namespaceCfg: PeerAuthenticationInfo | undefined;
  workloadCfg: PeerAuthenticationInfo | undefined;
} {
  return {
    meshCfg: pick(
      candidates.filter((p) => !hasMatchLabels(p) && p.namespace === root),
      'mesh-wide',
      notes,
      tieByName,
    ),
    namespaceCfg: pick(
      candidates.filter((p) => !hasMatchLabels(p) && p.namespace !== root),
      'namespace',
      notes,
      tieByName,
    ),
    workloadCfg: pick(
      candidates.filter((p) => hasMatchLabels(p) && p.namespace !== root),
      'workload',
      notes,
      tieByName,
    ),
  };
}

/**
 * Which PeerAuthentication policies istiod attaches to a pod (convertedSelectorPeerAuthentications
 * with the pod's candidates from fetchPeerAuthentications), with the converted form of its
 * workload policy when that is attached.
 */
export function peerAuthDecision(
  list: PeerAuthenticationInfo[],
  dst: PodInfo,
  root: string,
): PeerAuthDecision {
  const notes: string[] = [];
  const { meshCfg, namespaceCfg, workloadCfg } = levels(
    list.filter((p) => {
      if (p.namespace === root && p.selector === undefined) return true;
      if (p.namespace !== dst.namespace) return false;
      return p.selector === undefined || subsetOf(p.selector.matchLabels ?? {}, dst.labels);
    }),
    root,
    notes,
  );
  const by = {
    ...(meshCfg ? { mesh: meshCfg } : {}),
    ...(namespaceCfg ? { namespace: namespaceCfg } : {}),
    ...(workloadCfg ? { workload: workloadCfg } : {}),
  };

  let strict = meshCfg ? isStrict(meshCfg.mode) : false;
  if (namespaceCfg && !isUnset(namespaceCfg.mode)) strict = isStrict(namespaceCfg.mode);
  if (!workloadCfg) return { staticStrict: strict, ...by, notes };

  const w = workloadCfg;
  if (isStrict(w.mode)) strict = true;
  if (isLenient(w.mode)) strict = false;
  let attachWorkload = false;
  const portModes = Object.values(w.portLevelMtls ?? {});
  if (w.portLevelMtls !== undefined) {
    if (isStrict(w.mode)) {
      if (portModes.some(isLenient)) {
        attachWorkload = true;
        strict = false;
      }
    } else if (isLenient(w.mode)) {
      if (portModes.some(isStrict)) attachWorkload = true;
    } else if (strict) {
      // Only PERMISSIVE counts here, not DISABLE.
      if (portModes.some((m) => m === 'PERMISSIVE')) {
        attachWorkload = true;
        strict = false;
      }
    } else {
      strict = false;
      if (portModes.some(isStrict)) attachWorkload = true;
    }
  }
  if (!attachWorkload) return { staticStrict: strict, ...by, notes };
  // convertPeerAuthentication reads the namespace and root policies that have no selector at all.
  const nsPol = oldest(list.filter((p) => p.namespace === w.namespace && p.selector === undefined)).p;
  const rootPol = oldest(list.filter((p) => p.namespace === root && p.selector === undefined)).p;
  const converted = convertPeerAuthentication(root, w, nsPol, rootPol);
  if (!converted)
    notes.push(
      `istiod attaches ${convertedName(w)} to ${dst.namespace}/${dst.name} in place of the static STRICT policy but converts ${keyOf(w)} to nothing, so no PeerAuthentication STRICT applies to the pod at all`,
    );
  return { staticStrict: strict, ...(converted ? { converted } : {}), ...by, notes };
}

function matchOne(m: PaMatch, identity: boolean, port: number): boolean {
  if (m.noPrincipal && identity) return false;
  if (m.destinationPort !== undefined && m.destinationPort !== port) return false;
  if (m.notDestinationPort !== undefined && m.notDestinationPort === port) return false;
  return true;
}

/** Whether ztunnel's evaluation of the converted DENY matches a connection. */
export function convertedDenies(c: ConvertedPeerAuthentication, identity: boolean, port: number): boolean {
  return c.groups.some((g) => g.every((rule) => rule.some((m) => matchOne(m, identity, port))));
}

/**
 * What ztunnel does with a connection to port `port` of the pod, as far as PeerAuthentication
 * goes: `deny` with the reason, or `allow` with a reason when STRICT was satisfied or a port-level
 * exception applied (else an empty reason).
 */
export function peerAuthVerdict(
  d: PeerAuthDecision,
  identity: boolean,
  port: number,
  root: string,
): { outcome: 'allow' | 'deny'; reason: string } {
  const notes = d.notes.length ? `; ${d.notes.join('; ')}` : '';
  const w = d.workload;
  const portMode = w?.portLevelMtls?.[port];
  const levels = [
    d.mesh ? `mesh ${keyOf(d.mesh)} ${d.mesh.mode}` : undefined,
    d.namespace ? `namespace ${keyOf(d.namespace)} ${d.namespace.mode}` : undefined,
    w ? `workload ${keyOf(w)} ${w.mode}${portMode ? `, port ${port} ${portMode}` : ''}` : undefined,
  ]
    .filter(Boolean)
    .join(' > ');
  const source = identity ? 'an mTLS identity' : 'no mTLS identity (plaintext)';
  // convertedSelectorPeerAuthentications looks only for PERMISSIVE ports in a workload policy
  // without a mode under STRICT, so a DISABLE port does not take the static STRICT policy away.
  const quirk =
    w && isUnset(w.mode) && portMode === 'DISABLE'
      ? `; port ${port} is DISABLE, but in a policy without a mode istiod looks only for PERMISSIVE ports, so the pod keeps STRICT (write PERMISSIVE, which ztunnel treats the same)`
      : '';
  if (d.staticStrict && !identity)
    return {
      outcome: 'deny',
      reason: `mesh deny: PeerAuthentication makes port ${port} STRICT (${levels}) and the source has ${source}; ztunnel resets (${root}/${STATIC_STRICT})${quirk}${notes}`,
    };
  if (d.converted && convertedDenies(d.converted, identity, port))
    return {
      outcome: 'deny',
      reason: `mesh deny: PeerAuthentication makes port ${port} STRICT (${levels}) and the source has ${source}; ztunnel resets (${d.converted.key}: istiod's merge of ${keyOf(w as PeerAuthenticationInfo)} with its portLevelMtls)${notes}`,
    };
  if (identity && (d.staticStrict || d.converted))
    return { outcome: 'allow', reason: `mTLS satisfies PeerAuthentication (${levels})${notes}` };
  if (d.converted)
    return {
      outcome: 'allow',
      reason: `PeerAuthentication leaves port ${port} open to plaintext (${levels}; ${d.converted.key}: istiod's merge of ${keyOf(w as PeerAuthenticationInfo)})${notes}`,
    };
  return { outcome: 'allow', reason: notes ? notes.slice(2) : '' };
}

/**
 * The mode a sidecar enforces on one port: istiod's ComposePeerAuthentication (istio/istio 1.28.3
 * pilot/pkg/security/authn/policy_applier.go): mesh, then namespace, then workload policy, each
 * overriding the one before unless UNSET; PERMISSIVE when none sets a mode; a port in the workload
 * policy's portLevelMtls takes its own mode, UNSET inheriting the workload's. Candidates and levels
 * as for ambient (fetchPeerAuthentications; oldest wins).
 */
export function sidecarPeerAuth(
  list: PeerAuthenticationInfo[],
  dst: PodInfo,
  root: string,
  port: number,
): { mode: PeerAuthMode; levels: string; notes: string[] } {
  // The sidecar's candidates: policies of its namespace and of the root namespace whose
  // matchLabels (none: all) are a subset of its labels (pilot/pkg/model/authentication.go
  // getConfigsForWorkload), so a root policy with `selector: {}` is mesh-wide here too.
  const notes: string[] = [];
  const l = levels(
    list.filter(
      (p) =>
        (p.namespace === dst.namespace || p.namespace === root) &&
        subsetOf(p.selector?.matchLabels ?? {}, dst.labels),
    ),
    root,
    notes,
    true,
  );
  const d = { mesh: l.meshCfg, namespace: l.namespaceCfg, workload: l.workloadCfg, notes };
  let mode: PeerAuthMode = 'PERMISSIVE';
  for (const p of [d.mesh, d.namespace, d.workload]) if (p && !isUnset(p.mode)) mode = p.mode;
  const portMode = d.workload?.portLevelMtls?.[port];
  if (portMode !== undefined && !isUnset(portMode)) mode = portMode;
  const levelText = [
    d.mesh ? `mesh ${keyOf(d.mesh)} ${d.mesh.mode}` : undefined,
    d.namespace ? `namespace ${keyOf(d.namespace)} ${d.namespace.mode}` : undefined,
    d.workload
      ? `workload ${keyOf(d.workload)} ${d.workload.mode}${portMode ? `, port ${port} ${portMode}` : ''}`
      : undefined,
  ]
    .filter(Boolean)
    .join(' > ');
  return { mode, levels: levelText, notes };
}
