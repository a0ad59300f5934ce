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
