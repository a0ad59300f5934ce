import { z } from 'zod';

/**
 * The shape of a recorded chart inventory (test/twin/inventory/istio-<tag>.<values>.json): per
 * Helm release, a fact summary of every object `helm template` renders for it. Written by
 * scripts/twin-inventory.ts from the charts of istio/istio at a tag; read by index.ts.
 *
 * Summaries, not manifests: names, labels, annotations, and the fields the twin's API server and
 * controllers act on. Anything long (a ConfigMap's injection template, an annotation holding
 * JSON) is recorded as its size and SHA-256 so a change still shows, without copying the text.
 *
 * Every object is strict, so a field the script starts writing fails the shape test until the
 * schema (and the twin that reads it) knows it.
 */

/** A value too long to record: its UTF-8 size and the first 16 hex digits of its SHA-256. */
export const Digest = z.strictObject({
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{16}$/),
});
export type Digest = z.infer<typeof Digest>;

/** A string recorded as is when short, as a digest when long. */
export const ShortOrDigest = z.union([z.string(), Digest]);
export type ShortOrDigest = z.infer<typeof ShortOrDigest>;

const StringMap = z.record(z.string(), z.string());
/** Kubernetes int-or-string (targetPort, probe port, maxUnavailable). */
const IntOrString = z.union([z.number().int(), z.string()]);

export const LabelSelector = z.strictObject({
  matchLabels: StringMap.optional(),
  matchExpressions: z
    .array(
      z.strictObject({
        key: z.string(),
        operator: z.string(),
        values: z.array(z.string()).optional(),
      }),
    )
    .optional(),
});
export type LabelSelector = z.infer<typeof LabelSelector>;

export const EnvVar = z.strictObject({
  name: z.string(),
  /** A literal value (`value:`), as rendered. */
  value: z.string().optional(),
  /**
   * Where a `valueFrom` points: `fieldRef:<fieldPath>`, `resourceFieldRef:<resource>[/<divisor>]`,
   * `configMapKeyRef:<name>/<key>`, `secretKeyRef:<name>/<key>`.
   */
  from: z.string().optional(),
});
export type EnvVar = z.infer<typeof EnvVar>;

export const Probe = z.strictObject({
  /** httpGet, tcpSocket, grpc or exec. */
  handler: z.enum(['httpGet', 'tcpSocket', 'grpc', 'exec']),
  port: IntOrString.optional(),
  path: z.string().optional(),
  scheme: z.string().optional(),
  command: z.array(z.string()).optional(),
  initialDelaySeconds: z.number().optional(),
  periodSeconds: z.number().optional(),
  timeoutSeconds: z.number().optional(),
  successThreshold: z.number().optional(),
  failureThreshold: z.number().optional(),
});
export type Probe = z.infer<typeof Probe>;

export const ContainerPort = z.strictObject({
  name: z.string().optional(),
  containerPort: z.number().int(),
  protocol: z.string().optional(),
  hostPort: z.number().int().optional(),
});

export const Container = z.strictObject({
  name: z.string(),
  image: z.string(),
  imagePullPolicy: z.string().optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  ports: z.array(ContainerPort),
  env: z.array(EnvVar),
  /** envFrom sources: `configMapRef:<name>` or `secretRef:<name>`. */
  envFrom: z.array(z.string()).optional(),
  resources: z.strictObject({ requests: StringMap.optional(), limits: StringMap.optional() }).optional(),
  readinessProbe: Probe.optional(),
  livenessProbe: Probe.optional(),
  startupProbe: Probe.optional(),
  volumeMounts: z.array(
    z.strictObject({
      name: z.string(),
      mountPath: z.string(),
      readOnly: z.boolean().optional(),
      subPath: z.string().optional(),
    }),
  ),
  securityContext: z
    .strictObject({
      privileged: z.boolean().optional(),
      runAsUser: z.number().optional(),
      runAsGroup: z.number().optional(),
      runAsNonRoot: z.boolean().optional(),
      readOnlyRootFilesystem: z.boolean().optional(),
      allowPrivilegeEscalation: z.boolean().optional(),
      capabilitiesAdd: z.array(z.string()).optional(),
      capabilitiesDrop: z.array(z.string()).optional(),
    })
    .optional(),
});
export type Container = z.infer<typeof Container>;

export const Volume = z.strictObject({
  name: z.string(),
  /** The volume source's field name: hostPath, configMap, secret, emptyDir, projected, ... */
  type: z.string(),
  /** hostPath.path */
  path: z.string().optional(),
  /** hostPath.type */
  hostPathType: z.string().optional(),
  /** configMap.name or secret.secretName */
  source: z.string().optional(),
  optional: z.boolean().optional(),
  /** emptyDir.medium */
  medium: z.string().optional(),
  /** projected sources: `serviceAccountToken:<audience>`, `configMap:<name>`, `secret:<name>`, `downwardAPI`. */
  sources: z.array(z.string()).optional(),
});
export type Volume = z.infer<typeof Volume>;

export const Workload = z.strictObject({
  replicas: z.number().int().optional(),
  selector: LabelSelector,
  /** Deployment strategy / DaemonSet updateStrategy, as rendered. */
  strategy: z.record(z.string(), z.unknown()).optional(),
  minReadySeconds: z.number().optional(),
  template: z.strictObject({ labels: StringMap, annotations: StringMap }),
  serviceAccountName: z.string().optional(),
  hostNetwork: z.boolean().optional(),
  dnsPolicy: z.string().optional(),
  priorityClassName: z.string().optional(),
  terminationGracePeriodSeconds: z.number().optional(),
  nodeSelector: StringMap.optional(),
  tolerations: z.array(z.record(z.string(), z.unknown())).optional(),
  containers: z.array(Container),
  initContainers: z.array(Container).optional(),
  volumes: z.array(Volume),
});
export type Workload = z.infer<typeof Workload>;

export const ServiceSpec = z.strictObject({
  type: z.string().optional(),
  clusterIP: z.string().optional(),
  selector: StringMap.optional(),
  ports: z.array(
    z.strictObject({
      name: z.string().optional(),
      port: z.number().int(),
      targetPort: IntOrString.optional(),
      protocol: z.string().optional(),
      appProtocol: z.string().optional(),
    }),
  ),
});
export type ServiceSpec = z.infer<typeof ServiceSpec>;

export const Webhook = z.strictObject({
  name: z.string(),
  failurePolicy: z.string().optional(),
  sideEffects: z.string().optional(),
  admissionReviewVersions: z.array(z.string()).optional(),
  reinvocationPolicy: z.string().optional(),
  timeoutSeconds: z.number().optional(),
  service: z
    .strictObject({
      name: z.string(),
      namespace: z.string(),
      path: z.string().optional(),
      port: z.number().optional(),
    })
    .optional(),
  url: z.string().optional(),
  /** clientConfig.caBundle is set (istiod patches it in at run time). */
  caBundle: z.boolean(),
  namespaceSelector: LabelSelector.optional(),
  objectSelector: LabelSelector.optional(),
  rules: z.array(
    z.strictObject({
      operations: z.array(z.string()),
      apiGroups: z.array(z.string()),
      apiVersions: z.array(z.string()),
      resources: z.array(z.string()),
      scope: z.string().optional(),
    }),
  ),
});
export type Webhook = z.infer<typeof Webhook>;

export const Crd = z.strictObject({
  group: z.string(),
  scope: z.string(),
  names: z.strictObject({
    kind: z.string(),
    plural: z.string(),
    singular: z.string().optional(),
    listKind: z.string().optional(),
    shortNames: z.array(z.string()).optional(),
    categories: z.array(z.string()).optional(),
  }),
  versions: z.array(
    z.strictObject({
      name: z.string(),
      served: z.boolean(),
      storage: z.boolean(),
      deprecated: z.boolean().optional(),
      /** Subresource names (status, scale). */
      subresources: z.array(z.string()).optional(),
    }),
  ),
  /** Every version's openAPIV3Schema (JSON, in version order), digested; the schemas are not recorded. */
  schemas: Digest.optional(),
});
export type Crd = z.infer<typeof Crd>;

/**
 * An RBAC rule as one line: `groups=<g,...> resources=<r,...> verbs=<v,...>[ names=<n,...>]`, or
 * `urls=<u,...> verbs=<v,...>` for non-resource URLs. The core group ("") is written `core` (no API group has that name). Lists keep
 * the chart's order. parseRule (index.ts) turns it back into fields.
 */
export const PolicyRule = z
  .string()
  .regex(/^(?:groups=\S+ resources=\S+ verbs=\S+(?: names=\S+)?|urls=\S+ verbs=\S+)$/);
export type PolicyRule = z.infer<typeof PolicyRule>;

export const Subject = z.strictObject({
  kind: z.string(),
  name: z.string(),
  namespace: z.string().optional(),
  apiGroup: z.string().optional(),
});

export const ObjectSummary = z.strictObject({
  apiVersion: z.string(),
  kind: z.string(),
  name: z.string(),
  /** As rendered; absent for cluster-scoped objects (and for namespaced ones a template leaves to Helm). */
  namespace: z.string().optional(),
  /** The template that rendered it (helm's `# Source:` line), e.g. `istiod/templates/deployment.yaml`. */
  template: z.string(),
  /**
   * All labels. In the file, the release's `commonLabels` are left out here; inventoryFor puts
   * them back, so loaded objects carry every label.
   */
  labels: StringMap,
  /** All annotations; a value over 256 bytes is replaced by `sha256:<16 hex digits> (<n> bytes)`. */
  annotations: StringMap,
  workload: Workload.optional(),
  service: ServiceSpec.optional(),
  webhooks: z.array(Webhook).optional(),
  crd: Crd.optional(),
  rules: z.array(PolicyRule).optional(),
  aggregationRule: z.array(LabelSelector).optional(),
  roleRef: z.strictObject({ apiGroup: z.string().optional(), kind: z.string(), name: z.string() }).optional(),
  subjects: z.array(Subject).optional(),
  /** ConfigMap/Secret data: a value up to 1024 bytes as is, a longer one digested. */
  data: z.record(z.string(), ShortOrDigest).optional(),
  automountServiceAccountToken: z.boolean().optional(),
  imagePullSecrets: z.array(z.string()).optional(),
  /** HPA, PDB, ResourceQuota, NetworkPolicy, and kinds without a dedicated summary: top-level fields, each as is up to 512 bytes of JSON, else digested. */
  fields: z.record(z.string(), z.unknown()).optional(),
});
export type ObjectSummary = z.infer<typeof ObjectSummary>;

export const ReleaseInventory = z.strictObject({
  /** The profile's chart name: base, istiod, cni, ztunnel. */
  chart: z.enum(['base', 'istiod', 'cni', 'ztunnel']),
  /** The chart folder in istio/istio. */
  chartPath: z.string(),
  /** Chart.yaml name and version after release stamping (e.g. istiod 1.28.3). */
  chartName: z.string(),
  chartVersion: z.string(),
  /** The values files passed (repository-relative), in order. */
  valuesFiles: z.array(z.string()),
  /** Their merged content as passed to helm (values files, then inline values), for drift checks. */
  values: z.record(z.string(), z.unknown()),
  /** --set entries passed after the values files. */
  set: z.array(z.string()),
  /** The labels every object of the release carries with the same value (Helm's and the chart's standard labels). */
  commonLabels: StringMap,
  objects: z.array(ObjectSummary),
});
export type ReleaseInventory = z.infer<typeof ReleaseInventory>;

export const Inventory = z.strictObject({
  source: z.strictObject({
    repository: z.literal('istio/istio'),
    tag: z.string(),
    commit: z.string().regex(/^[0-9a-f]{40}$/),
    /** The tag's commit date (ISO 8601). */
    date: z.string(),
    charts: z.array(z.string()),
    /** `helm version --short` of the binary that rendered (test/helpers/real-helm.ts). */
    helm: z.string(),
    /** Other helm binaries that rendered the same summaries. */
    helmAgrees: z.array(z.string()),
    /** The value set: `defaults` (no values) or `homelab` (profiles/homelab as the plan passes it). */
    values: z.enum(['defaults', 'homelab']),
    namespace: z.string(),
    /** --kube-version given to helm template (the profile's kind node image). */
    kubeVersion: z.string(),
    /**
     * What istio/release-builder rewrites before it publishes a chart (pkg/build/helm.go
     * stampChartForRelease): Chart.yaml version and appVersion, and in values.yaml the development
     * hubs (`hubs`) and tags (`tag: latest`, ...). Git holds the unstamped charts.
     */
    stamp: z.strictObject({
      repository: z.literal('istio/release-builder'),
      branch: z.string(),
      commit: z.string().regex(/^[0-9a-f]{40}$/),
      hub: z.string(),
      replacedHubs: z.array(z.string()),
      /** The tag patterns (Go regexps) replaced by `tag: <version>`. */
      tagPatterns: z.array(z.string()),
      version: z.string(),
    }),
    generatedBy: z.string(),
  }),
  releases: z.record(z.string(), ReleaseInventory),
});
export type Inventory = z.infer<typeof Inventory>;

export type ValuesSet = Inventory['source']['values'];

/**
 * A chart the plan installs besides Istio's (harness/plan.ts `addons.*` steps): metrics-server.
 * One file per chart version (test/twin/inventory/<chart>-<version>.json), rendered by
 * scripts/twin-inventory.ts with exactly the plan step's release name, namespace and --set entries,
 * from the chart folder of the upstream git repository at the chart's release tag.
 */
export const AddonInventory = z.strictObject({
  source: z.strictObject({
    /** The upstream git repository (owner/name) and the chart's release tag in it. */
    repository: z.string().regex(/^[\w.-]+\/[\w.-]+$/),
    tag: z.string(),
    commit: z.string().regex(/^[0-9a-f]{40}$/),
    /** The tag's commit date (ISO 8601). */
    date: z.string(),
    /** The chart folder in the repository. */
    chart: z.string(),
    /** The Helm repository the plan installs the chart from (`--repo`, pins.json). */
    chartRepository: z.string(),
    /** `helm version --short` of the binary that rendered (test/helpers/real-helm.ts). */
    helm: z.string(),
    /** Other helm binaries that rendered the same summaries. */
    helmAgrees: z.array(z.string()),
    /** --kube-version given to helm template (the profile's kind node image). */
    kubeVersion: z.string(),
    /** The plan step whose helm command was reproduced (harness/plan.ts). */
    planStep: z.string(),
    generatedBy: z.string(),
  }),
  release: z.strictObject({
    name: z.string(),
    namespace: z.string(),
    /** Chart.yaml name, version and appVersion. */
    chartName: z.string(),
    chartVersion: z.string(),
    appVersion: z.string(),
    /** The plan's --set entries, in order. */
    set: z.array(z.string()),
    /** The values those entries give, as the real helm parsed them (what the release stores as its config). */
    values: z.record(z.string(), z.unknown()),
    /**
     * The container whose image the chart builds from `image.repository` and `image.tag`
     * (`<repository>:<tag, or v<appVersion> when empty>`), and the chart's defaults for both
     * (values.yaml). The twin's helm rebuilds the image from the values it is given.
     */
    image: z.strictObject({
      kind: z.string(),
      name: z.string(),
      container: z.string(),
      repository: z.string(),
      tag: z.string(),
    }),
    /** The labels every object of the release carries with the same value. */
    commonLabels: StringMap,
    objects: z.array(ObjectSummary),
  }),
});
export type AddonInventory = z.infer<typeof AddonInventory>;
