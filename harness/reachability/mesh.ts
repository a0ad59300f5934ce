import { cidrContains } from './cidr.ts';
import { peerAuthDecision, peerAuthVerdict, sidecarPeerAuth } from './peerauth.ts';
import { matchesSelector } from './selectors.ts';
import type { LabelSelector, PodInfo } from './types.ts';

/**
 * The mesh layer: what the destination ztunnel decides for a connection that NetworkPolicy let
 * through (L4 AuthorizationPolicy and PeerAuthentication; security.istio.io/v1). Only enrolled
 * destinations are enforced. Sources: istio.io docs "ambient/usage/l4-policy" and ztunnel src/rbac.rs.
 */

export type PeerAuthMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE' | 'UNSET';

export interface PeerAuthenticationInfo {
  namespace: string;
  name: string;
  /** spec.selector (matchLabels only); present even when it has no matchLabels, as istiod tells those apart. */
  selector?: { matchLabels?: Record<string, string> };
  /** spec.mtls.mode; UNSET when absent (inherit). */
  mode: PeerAuthMode;
  /** spec.portLevelMtls: port number → mode. */
  portLevelMtls?: Record<number, PeerAuthMode>;
  /** metadata.creationTimestamp (RFC 3339): the oldest policy wins where several compete. */
  creationTimestamp?: string;
}

export interface AuthzSource {
  principals?: string[];
  notPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  /**
   * `ns/sa`, or a bare `sa` meaning the policy's own namespace: L4 matches on the source's
   * identity (istio/istio 1.28.3 pilot/pkg/serviceregistry/kube/controller/ambient/
   * authorization.go stringToServiceAccountMatch; istio/ztunnel 1.28.3 src/rbac.rs
   * ServiceAccountMatch: namespace and service account equal; no identity never matches).
   */
  serviceAccounts?: string[];
  notServiceAccounts?: string[];
  /** Any L7-only field present (requestPrincipals, remoteIpBlocks…). */
  l7?: string[];
}

export interface AuthzOperation {
  ports?: string[];
  notPorts?: string[];
  l7?: string[];
}

export interface AuthzCondition {
  key: string;
  values?: string[];
  notValues?: string[];
}

export interface AuthzRule {
  from?: { source: AuthzSource }[];
  to?: { operation: AuthzOperation }[];
  when?: AuthzCondition[];
}

export interface AuthorizationPolicyInfo {
  namespace: string;
  name: string;
  selector?: LabelSelector;
  /** Policies bound to a waypoint or gateway (targetRefs) are not enforced by ztunnel. */
  targetRefs?: boolean;
  action: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
  /** undefined: the field is absent. */
  rules?: AuthzRule[];
}

export interface MeshSource {
  pod: PodInfo | undefined;
  ip: string | undefined;
  /** The source talks HBONE (it is enrolled): it has an mTLS identity. */
  mtls: boolean;
}

export const TRUST_DOMAIN = 'cluster.local';

/** "cluster.local/ns/<ns>/sa/<sa>", the form AuthorizationPolicy principals use (no spiffe://). */
export function principalOf(pod: PodInfo, trustDomain = TRUST_DOMAIN): string {
  return `${trustDomain}/ns/${pod.namespace}/sa/${pod.serviceAccount ?? 'default'}`;
}

export function spiffeId(pod: PodInfo, trustDomain = TRUST_DOMAIN): string {
  return `spiffe://${principalOf(pod, trustDomain)}`;
}

/** Istio string matching: exact, "*" (presence), "prefix*", "*suffix". */
export function stringMatch(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  return pattern === value;
}

function policyApplies(
  p: { namespace: string; selector?: LabelSelector },
  dst: PodInfo,
  root: string,
): boolean {
  if (p.namespace !== root && p.namespace !== dst.namespace) return false;
  return p.selector === undefined || matchesSelector(p.selector, dst.labels);
}

/** istiod's reading of a serviceAccounts entry: "ns/sa", or "sa" in the policy's namespace. */
function serviceAccountRef(v: string, ruleNamespace: string): { namespace: string; name: string } {
  const i = v.indexOf('/');
  return i >= 0 ? { namespace: v.slice(0, i), name: v.slice(i + 1) } : { namespace: ruleNamespace, name: v };
}

function matchSource(src: AuthzSource, s: MeshSource, forDeny: boolean, ruleNamespace: string): boolean {
  const principal = s.mtls && s.pod ? principalOf(s.pod) : undefined;
  const ns = s.mtls && s.pod ? s.pod.namespace : undefined;
  if (src.l7?.length && !forDeny) return false;
  const sa =
    s.mtls && s.pod ? { namespace: s.pod.namespace, name: s.pod.serviceAccount ?? 'default' } : undefined;
  const saMatch = (v: string) => {
    const ref = serviceAccountRef(v, ruleNamespace);
    return sa !== undefined && ref.namespace === sa.namespace && ref.name === sa.name;
  };
  if (src.serviceAccounts && !src.serviceAccounts.some(saMatch)) return false;
  if (src.notServiceAccounts?.some(saMatch)) return false;
  if (src.principals && !(principal !== undefined && src.principals.some((p) => stringMatch(p, principal))))
    return false;
  if (
    src.notPrincipals &&
    principal !== undefined &&
    src.notPrincipals.some((p) => stringMatch(p, principal))
  )
    return false;
  if (src.namespaces && !(ns !== undefined && src.namespaces.some((p) => stringMatch(p, ns)))) return false;
  if (src.notNamespaces && ns !== undefined && src.notNamespaces.some((p) => stringMatch(p, ns)))
    return false;
  if (
    src.ipBlocks &&
    !(
      s.ip !== undefined &&
      src.ipBlocks.some((c) => (c.includes('/') ? cidrContains(c, s.ip ?? '') : c === s.ip))
    )
  )
    return false;
  if (
    src.notIpBlocks &&
    s.ip !== undefined &&
    src.notIpBlocks.some((c) => (c.includes('/') ? cidrContains(c, s.ip ?? '') : c === s.ip))
  )
    return false;
  return true;
}

/**
 * Ports as istiod reads them (authorization.go stringToPort: strconv.ParseUint base 10; an entry
 * that does not parse is dropped, so "08080" is 8080). The decoder has already refused what
 * istiod's webhook refuses (names, above 65535: ValidatePorts), so this only normalises.
 */
export function portsOf(list: string[] | undefined): number[] {
  return (list ?? []).filter((p) => /^\d+$/.test(p) && Number(p) <= 0xffffffff).map(Number);
}

function matchOperation(op: AuthzOperation, port: number, forDeny: boolean): boolean {
  if (op.l7?.length && !forDeny) return false;
  const ports = portsOf(op.ports);
  if (ports.length && !ports.includes(port)) return false;
  if (portsOf(op.notPorts).includes(port)) return false;
  return true;
}

const L4_CONDITION_KEYS = new Set([
  'source.ip',
  'source.namespace',
  'source.principal',
  'destination.port',
  'destination.ip',
]);

function matchCondition(
  c: AuthzCondition,
  s: MeshSource,
  dst: PodInfo,
  port: number,
  forDeny: boolean,
): boolean {
  if (!L4_CONDITION_KEYS.has(c.key)) return forDeny; // L7 condition: an ALLOW cannot match it; a DENY ignores it
  const value =
    c.key === 'source.ip'
      ? s.ip
      : c.key === 'source.namespace'
        ? s.mtls
          ? s.pod?.namespace
          : undefined
        : c.key === 'source.principal'
          ? s.mtls && s.pod
            ? principalOf(s.pod)
            : undefined
          : c.key === 'destination.port'
            ? String(port)
            : dst.ip;
  if (c.key === 'destination.port') {
    const ports = portsOf(c.values);
    if (ports.length && !ports.includes(port)) return false;
    return !portsOf(c.notValues).includes(port);
  }
  const test = (p: string) =>
    value === undefined
      ? false
      : p.includes('/') && c.key.endsWith('.ip')
        ? cidrContains(p, value)
        : stringMatch(p, value);
  if (c.values && !c.values.some(test)) return false;
  if (c.notValues?.some(test)) return false;
  return true;
}

/** The source fields ztunnel judges at L4 (istiod's handleRule); the others need a waypoint. */
export const L4_SOURCE_KEYS = [
  'principals',
  'notPrincipals',
  'namespaces',
  'notNamespaces',
  'ipBlocks',
  'notIpBlocks',
  'serviceAccounts',
  'notServiceAccounts',
] as const;

/**
 * istiod's l7RuleFound for one rule: an L7 source or operation field, or a `when` key outside
 * the five L4 ones (istio/istio 1.28.3 pilot/pkg/serviceregistry/kube/controller/ambient/
 * authorization.go handleRule, httpSources, httpOperations, l4WhenAttributes).
 */
function ruleHasL7(r: AuthzRule): boolean {
  return (
    (r.from ?? []).some((f) => (f.source.l7?.length ?? 0) > 0) ||
    (r.to ?? []).some((t) => (t.operation.l7?.length ?? 0) > 0) ||
    (r.when ?? []).some((c) => !L4_CONDITION_KEYS.has(c.key))
  );
}

/**
 * Whether istiod's ztunnel match for this entry has anything in it. ztunnel skips an empty
 * match, so a clause made only of empty matches never matches (istio/ztunnel 1.28.3 src/rbac.rs
 * RbacMatch::is_empty and the "empty clause" branch of Authorization::matches).
 */
const sourceHasL4 = (src: AuthzSource) => L4_SOURCE_KEYS.some((k) => (src[k]?.length ?? 0) > 0);
const operationHasL4 = (op: AuthzOperation) =>
  portsOf(op.ports).length > 0 || portsOf(op.notPorts).length > 0;
const conditionHasL4 = (c: AuthzCondition) =>
  L4_CONDITION_KEYS.has(c.key) &&
  (c.key === 'destination.port'
    ? portsOf(c.values).length > 0 || portsOf(c.notValues).length > 0
    : (c.values?.length ?? 0) > 0 || (c.notValues?.length ?? 0) > 0);

/**
 * A rule as ztunnel evaluates istiod's conversion of it. ALLOW: a rule with any L7 attribute is
 * omitted (it never allows). DENY: L7 fields are dropped and the rest is matched; a `from`/`to`
 * entry with no L4 field, or a `when` on an L7 key, becomes an empty match that never matches,
 * so that clause, and the rule, never match. Otherwise every present clause must match (OR
 * within from/to lists, AND across clauses).
 */
function ruleMatches(
  r: AuthzRule,
  s: MeshSource,
  dst: PodInfo,
  port: number,
  forDeny: boolean,
  ruleNamespace: string,
  enforcer: Enforcer = 'ztunnel',
): boolean {
  if (!forDeny && ruleHasL7(r)) return false;
  // What is left of an entry once its L7 fields are dropped. ztunnel skips an empty match, so the
  // entry never matches; a sidecar's TCP RBAC filter ignores the L7 keys of a DENY and, with
  // nothing left, matches any (istio/istio 1.28.3 pilot/pkg/security/authz/model/model.go
  // checkError and generatePermission/generatePrincipal's permissionAny/principalAny).
  const empty = enforcer === 'sidecar';
  if (
    r.from?.length &&
    !r.from.some((f) => (sourceHasL4(f.source) ? matchSource(f.source, s, true, ruleNamespace) : empty))
  )
    return false;
  if (
    r.to?.length &&
    !r.to.some((t) => (operationHasL4(t.operation) ? matchOperation(t.operation, port, true) : empty))
  )
    return false;
  if (
    r.when?.length &&
    !r.when.every((c) => (conditionHasL4(c) ? matchCondition(c, s, dst, port, true) : empty))
  )
    return false;
  return true;
}

function hasL7(p: AuthorizationPolicyInfo): boolean {
  return (p.rules ?? []).some(
    (r) =>
      (r.from ?? []).some((f) => (f.source.l7?.length ?? 0) > 0) ||
      (r.to ?? []).some((t) => (t.operation.l7?.length ?? 0) > 0) ||
      (r.when ?? []).some((c) => !L4_CONDITION_KEYS.has(c.key)),
  );
}

export interface MeshVerdict {
  outcome: 'allow' | 'deny';
  reason: string;
}

/**
 * The destination ztunnel's decision. Order as in Istio: DENY policies first, then ALLOW (if any
 * ALLOW policy applies, one must match). STRICT is istiod's static DENY of connections without an
 * identity (istio-system/istio_converted_static_strict). Rules follow istiod's conversion (see
 * ruleMatches): an ALLOW rule with an L7 attribute allows nothing; in a DENY the L7 fields are
 * dropped, and an entry left with no L4 field never matches. Actions other than ALLOW and DENY
 * have no L4 effect, and the reason says so.
 */
export function meshVerdict(
  s: MeshSource,
  dst: PodInfo,
  port: number,
  peerAuths: PeerAuthenticationInfo[],
  policies: AuthorizationPolicyInfo[],
  root: string,
  enforcer: Enforcer = 'ztunnel',
): MeshVerdict {
  const v = l4Verdict(s, dst, port, peerAuths, policies, root, enforcer);
  if (enforcer === 'sidecar') {
    const custom = policies.filter(
      (p) => !p.targetRefs && p.action === 'CUSTOM' && policyApplies(p, dst, root),
    );
    if (!custom.length) return v;
    const note = `AuthorizationPolicy ${custom.map((p) => `${p.namespace}/${p.name}`).join(', ')} (CUSTOM) is decided by the sidecar's external authorizer, which the matrix does not model`;
    return { ...v, reason: v.reason ? `${v.reason}; ${note}` : note };
  }
  // istiod hands ztunnel only ALLOW and DENY; any other action is reported as unsupported and
  // has no L4 effect (istio/istio 1.28.3 authorization.go convertAuthorizationPolicy).
  const unsupported = policies.filter(
    (p) => !p.targetRefs && p.action !== 'ALLOW' && p.action !== 'DENY' && policyApplies(p, dst, root),
  );
  if (!unsupported.length) return v;
  const note = unsupported
    .map(
      (p) =>
        `AuthorizationPolicy ${p.namespace}/${p.name} has no L4 effect: ztunnel does not support the ${p.action} action`,
    )
    .join('; ');
  return { ...v, reason: v.reason ? `${v.reason}; ${note}` : note };
}

/**
 * Who enforces the destination's policies: the destination node's ztunnel (an enrolled pod) or
 * the pod's own sidecar Envoy (istio/istio 1.28.3: the sidecar composes PeerAuthentication per
 * port, pilot/pkg/security/authn/policy_applier.go, and evaluates AuthorizationPolicy itself).
 */
export type Enforcer = 'ztunnel' | 'sidecar';

function sidecarPeerAuthVerdict(
  peerAuths: PeerAuthenticationInfo[],
  dst: PodInfo,
  port: number,
  root: string,
  mtls: boolean,
): MeshVerdict {
  const pa = sidecarPeerAuth(peerAuths, dst, root, port);
  const notes = pa.notes.length ? `; ${pa.notes.join('; ')}` : '';
  if (pa.mode === 'STRICT' && !mtls)
    return {
      outcome: 'deny',
      reason: `mesh deny: the sidecar of ${dst.namespace}/${dst.name} enforces STRICT on port ${port} (${pa.levels}) and the source has no mTLS identity (plaintext); its Envoy refuses the connection${notes}`,
    };
  if (pa.mode === 'STRICT')
    return { outcome: 'allow', reason: `mTLS satisfies the sidecar's STRICT (${pa.levels})${notes}` };
  return {
    outcome: 'allow',
    reason: pa.levels ? `the sidecar's mode on port ${port} is ${pa.mode} (${pa.levels})${notes}` : '',
  };
}

function l4Verdict(
  s: MeshSource,
  dst: PodInfo,
  port: number,
  peerAuths: PeerAuthenticationInfo[],
  policies: AuthorizationPolicyInfo[],
  root: string,
  enforcer: Enforcer,
): MeshVerdict {
  const pa =
    enforcer === 'sidecar'
      ? sidecarPeerAuthVerdict(peerAuths, dst, port, root, s.mtls)
      : peerAuthVerdict(peerAuthDecision(peerAuths, dst, root), s.mtls, port, root);
  if (pa.outcome === 'deny') return pa;
  const who = enforcer === 'sidecar' ? `the sidecar of ${dst.namespace}/${dst.name}` : 'ztunnel';
  const by = enforcer === 'sidecar' ? `; enforced by ${who}` : '';
  const applicable = policies.filter((p) => !p.targetRefs && policyApplies(p, dst, root));
  for (const p of applicable.filter((x) => x.action === 'DENY')) {
    const rules = p.rules ?? [];
    const hit = rules.findIndex((r) => ruleMatches(r, s, dst, port, true, p.namespace, enforcer));
    if (hit >= 0)
      return {
        outcome: 'deny',
        reason: `mesh deny: AuthorizationPolicy ${p.namespace}/${p.name} (DENY, rule ${hit}) matches${hasL7(p) ? (enforcer === 'sidecar' ? `; on a TCP connection ${who} ignores a DENY's L7 conditions and an entry left empty matches any (on an HTTP port its Envoy judges them per request instead)` : '; its L7 conditions are ignored without a waypoint') : ''}${by}`,
      };
  }
  const allows = applicable.filter((x) => x.action === 'ALLOW');
  if (!allows.length) return { outcome: 'allow', reason: pa.reason };
  for (const p of allows) {
    const hit = (p.rules ?? []).findIndex((r) => ruleMatches(r, s, dst, port, false, p.namespace, enforcer));
    if (hit >= 0)
      return {
        outcome: 'allow',
        reason: `allowed by AuthorizationPolicy ${p.namespace}/${p.name} (rule ${hit})${by}${pa.reason ? `; ${pa.reason}` : ''}`,
      };
  }
  const l7 = allows.filter(hasL7).map((p) => `${p.namespace}/${p.name}`);
  return {
    outcome: 'deny',
    reason: `mesh deny: ALLOW policies exist (${allows.map((p) => `${p.namespace}/${p.name}`).join(', ')}) but none allows ${s.mtls && s.pod ? principalOf(s.pod) : `plaintext from ${s.ip ?? '?'}`} on port ${port}${l7.length ? (enforcer === 'sidecar' ? `; ${l7.join(', ')} need L7 attributes, which ${who} judges per HTTP request, not on a TCP connection` : `; ${l7.join(', ')} need L7 attributes, which ztunnel cannot match without a waypoint`) : ''}${by}`,
  };
}
