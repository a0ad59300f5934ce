import type { AuthorizationPolicyInfo, PeerAuthenticationInfo } from './mesh.ts';

/**
 * The cluster as the reachability model sees it: plain data, built from manifests (netpol matrix)
 * or from the API (the suites). Shapes follow the Kubernetes API (networking.k8s.io/v1).
 */

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}

export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
}

export interface PodInfo {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  ip?: string;
  ports: ContainerPort[];
  hostNetwork?: boolean;
  /** spec.serviceAccountName ("default" when unset): the pod's SPIFFE identity in the mesh. */
  serviceAccount?: string;
  /** spec.nodeName: which node's kubelet probes it, and whether a host source is on the same node. */
  nodeName?: string;
  /** status.hostIP: the node's address, the source address of host traffic that is not SNATed. */
  hostIP?: string;
  /** The kubelet's network probes of the pod (httpGet, tcpSocket, grpc), with ports resolved. */
  probes?: PodProbe[];
  /**
   * Host-network pods only: whose sockets its connections come from, per runAsUser (containers',
   * else the pod's): `root`, `non-root`, or `unset` (the image's user).
   */
  hostUser?: 'root' | 'non-root' | 'unset';
}

export interface PodProbe {
  probe: 'liveness' | 'readiness' | 'startup';
  container: string;
  handler: 'httpGet' | 'tcpSocket' | 'grpc';
  /** TCP port on the pod's IP. */
  port: number;
}

export interface NetworkPolicyPort {
  protocol?: string;
  port?: number | string;
  endPort?: number;
}

export interface IPBlock {
  cidr: string;
  except?: string[];
}

export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IPBlock;
}

export interface NetworkPolicyRule {
  /** `from` for ingress, `to` for egress; absent or empty means every peer. */
  peers?: NetworkPolicyPeer[];
  /** Absent or empty means every port. */
  ports?: NetworkPolicyPort[];
}

export interface NetworkPolicyInfo {
  namespace: string;
  name: string;
  podSelector: LabelSelector;
  policyTypes: ('Ingress' | 'Egress')[];
  ingress: NetworkPolicyRule[];
  egress: NetworkPolicyRule[];
}

export interface ClusterState {
  namespaces: NamespaceInfo[];
  pods: PodInfo[];
  networkPolicies: NetworkPolicyInfo[];
  /** Istio objects, added by the mesh layer (PeerAuthentication, AuthorizationPolicy). */
  peerAuthentications?: PeerAuthenticationInfo[];
  authorizationPolicies?: AuthorizationPolicyInfo[];
  /** Istio's root namespace (mesh-wide policies). */
  istioNamespace?: string;
}

/** What a probe of a cell is predicted to see. */
export type Outcome =
  /** the application answers */
  | 'allow'
  /** a NetworkPolicy drops the packets: a timeout (in ambient, ztunnel's 10 s HBONE connect timeout) */
  | 'drop'
  /** the mesh refuses (AuthorizationPolicy, STRICT mTLS): the connection is reset */
  | 'deny';

export interface Cell {
  from: string;
  to: string;
  port: number;
  protocol: 'TCP';
  allowed: boolean;
  outcome: Outcome;
  /** The port NetworkPolicy judges: 15008 between two enrolled pods, else the app port. */
  judgedPort: number;
  /** Both ends enrolled: the connection travels over HBONE with mTLS. */
  hbone: boolean;
  reason: string;
}

export const HBONE_PORT = 15008;

/**
 * The address istio-cni SNATs connections from the node's own sockets to enrolled pods on that
 * node to, so that ztunnel lets them through (istio/istio 1.28.3 cni/pkg/iptables/iptables.go,
 * HostProbeSNATAddress / HostProbeSNATAddressV6; istio.io "Ambient and Kubernetes NetworkPolicy").
 */
export const HOST_PROBE_SNAT_V4 = '169.254.7.127';
export const HOST_PROBE_SNAT_V6 = 'fd16:9254:7127:1337:ffff:ffff:ffff:ffff';

/** Whether the CNI applies NetworkPolicy to connections from the node's own sockets. */
export type HostTraffic = 'judged' | 'exempt';
