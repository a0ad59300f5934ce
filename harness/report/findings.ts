/**
 * Where the homelab runbook and upstream Istio disagree. Upstream facts win; every report lists
 * these next to the tests that check them on the cluster.
 */
export interface Finding {
  topic: string;
  runbook: string;
  upstream: string;
  source: string;
  checkedBy: string[];
  /** Checked before the run, by the scan of the profile and its values files (plan, run, doctor). */
  checkedByProfileScan?: boolean;
}

export const FINDINGS: Finding[] = [
  {
    topic: 'Chart and image hosts',
    runbook: 'References link the Helm charts at https://istio-release.storage.googleapis.com/charts',
    upstream:
      'Istio retires that repository, gcr.io/istio-release (images and OCI charts) and registry.istio.io/release in December 2026 (off 2026-12-08 15:00 to 2026-12-09 15:00 UTC for the last scream test); Istio 1.31 is not published there. Charts: https://blob.istio.io/istio-release/charts or oci://ghcr.io/istio/release/charts; images: docker.io/istio',
    source:
      'Istio 1.31 upgrade notes "Deprecation of GCP infrastructure and hosting"; istio.io blog "An update on our move to AWS" (2026-08-21)',
    checkedBy: [],
    checkedByProfileScan: true,
  },
  {
    topic: 'Ingress from istio-system',
    runbook: 'allow HBONE 15008 and the app port from istio-system ("ztunnel terminates tunnel")',
    upstream:
      'meshed traffic arrives from the source pod’s own IP, never from istio-system; that allowance admits nothing',
    source: 'istio.io ambient/usage/networkpolicy; ztunnel ARCHITECTURE.md',
    checkedBy: ['NETPOL-03', 'NETPOL-06'],
  },
  {
    topic: 'App port for meshed callers',
    runbook: 'allow the application port next to 15008 from every source namespace',
    upstream:
      'between meshed pods only 15008 is judged; the app port is needed only for non-meshed (plaintext) clients',
    source: 'ztunnel ARCHITECTURE.md "Ports"',
    checkedBy: ['NETPOL-05'],
  },
  {
    topic: 'Egress to istiod',
    runbook: 'meshed pods need egress to istio-system on 15012 (istiod gRPC) and 15017 (webhook)',
    upstream:
      'application pods never talk to istiod in ambient; ztunnel does, from its own network namespace; 15017 is called by the API server',
    source: 'istio.io ambient/usage/networkpolicy',
    checkedBy: ['NETPOL-01'],
  },
  {
    topic: 'Kubelet probes under default-deny',
    runbook: 'no allowance for health probes',
    upstream:
      'kubelet probes to enrolled pods are SNATed to 169.254.7.127 (IPv6 fd16:9254:7127:1337:ffff:ffff:ffff:ffff); allow that ipBlock where the CNI filters host traffic',
    source: 'istio.io ambient/usage/networkpolicy',
    checkedBy: ['NETPOL-07'],
  },
  {
    topic: 'ztunnel memory',
    runbook: '~1-2Mi per node',
    upstream:
      'the runbook’s own measurement is ~38Mi for 5 ztunnels (~7.6Mi each); the chart requests 512Mi per node by default',
    source: 'runbook "Current measurements"; ztunnel chart values.yaml',
    checkedBy: ['BUDGET-01'],
  },
  {
    topic: 'Removal order',
    runbook: 'delete the Argo CD applications, then the istio-system namespace',
    upstream:
      'un-enroll namespaces and wait for the redirection annotation to go first; removing istio-cni leaves in-pod redirection in still-enrolled pods (istio/istio#49067); CRDs and istio-ca-root-cert ConfigMaps stay by design',
    source: 'istio.io ambient/install/helm (uninstall); istio/istio.io#16002',
    checkedBy: ['REMOVAL-02', 'REMOVAL-03'],
  },
];
