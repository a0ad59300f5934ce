import type {} from 'vitest';
import type { ClusterMode } from './plan.ts';

/**
 * Capabilities a conformance test may need. A test whose needs are not met is skipped with the
 * reason, and still appears in the catalog and the reports.
 */
export const FEATURES = {
  /** A reachable cluster with Istio ambient Ready (every conformance test needs it). */
  cluster: 'a reachable cluster with Istio ambient Ready',
  /** The kind node containers can be reached with `docker exec` (CNI files, host rules, captures). */
  kindNodes: 'access to the nodes through docker exec (kind clusters only)',
  /** metrics.k8s.io serves PodMetrics (metrics-server). */
  metricsApi: 'metrics.k8s.io (metrics-server) serving pod metrics',
  /** Istio was installed by this run, so the run may change or remove it. */
  istioOwnedByRun: 'an Istio installed by this run (so the run may reconfigure or remove it)',
  /** The profile's meshed namespaces were created by this run (kind), so the run may deploy there. */
  namespacesOwnedByRun: 'meshed namespaces created by this run',
  /**
   * The CNI applies NetworkPolicy to traffic from the node's own sockets (kubelet probes). Not on
   * kindnet: kind v0.30.0's kindnetd enforces NetworkPolicy with kube-network-policies v0.8.0,
   * which accepts everything from root-owned host sockets (`meta skuid 0 accept`,
   * pkg/networkpolicy/controller.go), so a claim about probes under NetworkPolicy cannot fail there.
   */
  hostTrafficJudged: 'a CNI that applies NetworkPolicy to traffic from the node itself (kubelet probes)',
  /** --destructive was given: checks that break the mesh on purpose may run (never by default). */
  destructive: 'opt-in (--destructive) checks that break the mesh on purpose, on an Istio this run installed',
} as const;

export type Feature = keyof typeof FEATURES;

export interface FeatureState {
  available: boolean;
  reason: string;
}

/** Serializable facts about the run, provided by globalSetup to every test (provide/inject). */
export interface RunFacts {
  runId: string;
  runDir: string;
  mode: ClusterMode;
  clusterName: string;
  kubeconfig: string;
  context?: string;
  profilePath: string;
  istioNamespace: string;
  istioVersion: string;
  /** Server version as reported by the API (e.g. v1.34.0). */
  kubernetesVersion: string;
  nodeImage?: string;
  kindVersion?: string;
  helmVersion: string;
  /** The helm binary the run used (REMOVAL uninstalls with it) and its major version. */
  helmPath: string;
  helmMajor: 3 | 4;
  nodes: string[];
  meshedNamespaces: string[];
  controlNamespace: string;
  keepOnFailure: boolean;
  only: string[];
  skip: string[];
  features: Record<Feature, FeatureState>;
  /** Release names in the order this run installed them (empty when it installed nothing). */
  installOrder: string[];
}

declare module 'vitest' {
  export interface ProvidedContext {
    facts: RunFacts;
  }
}
