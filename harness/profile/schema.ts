import { z } from 'zod';
import { TIMEOUT_DOCS, TIMEOUT_RANGE, parseDuration, timeoutProblem, type TimeoutKey } from '../timeouts.ts';
import { istioVersionProblem } from '../istio/versions.ts';
import { parseQuantity } from '../quantity.ts';

/**
 * A profile is one typed description of a run. Its YAML form is what users write; `Profile` is
 * what the code reads after validation and path resolution (see load.ts).
 *
 * Every object is strict: a field this schema does not know (a misspelt `value:` for `values:`,
 * `cluster.metricServer`) is refused, never dropped. Only Helm values (`values`) are free-form.
 */

/**
 * The Istio version: its form and whether its minor is known, by the rules --istio-version
 * follows too (istio/versions.ts). The seen value and the fix travel in the issue's params.
 */
const istioVersion = z.string().superRefine((v, ctx) => {
  const problem = istioVersionProblem(v);
  if (problem !== undefined)
    ctx.addIssue({
      code: 'custom',
      message: problem.expected,
      params: { seen: problem.seen, ...(problem.fix === undefined ? {} : { fix: problem.fix }) },
    });
});

/**
 * Kubernetes DNS-1123 label (at most 63 characters): namespaces (kubernetes/apimachinery
 * pkg/api/validation: ValidateNamespaceName = NameIsDNSLabel).
 */
const dns1123 = z
  .string()
  .max(63, 'a DNS-1123 label of at most 63 characters')
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a DNS-1123 label (lowercase letters, digits, "-")');

/**
 * Helm release name: a DNS-1123 subdomain of at most 53 characters (helm/helm v4.2.1
 * pkg/chart/v2/util/validate_name.go: validName, maxReleaseNameLen; the same in v3.17.2
 * pkg/chartutil/validate_name.go).
 */
const releaseName = z
  .string()
  .max(53, 'a Helm release name of at most 53 characters')
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    'a Helm release name (lowercase letters, digits, "-" and ".", starting and ending with a letter or digit)',
  );

/** A timeout: above 0 and at most 24h (timeouts.ts MAX_TIMEOUT_MS). */
const duration = z
  .union([z.string(), z.number()], { error: 'a duration such as 90s, 5m or 1m30s' })
  .transform((v, ctx) => {
    let ms: number;
    try {
      ms = parseDuration(String(v));
    } catch {
      ctx.addIssue({ code: 'custom', message: TIMEOUT_RANGE });
      return z.NEVER;
    }
    const problem = timeoutProblem(ms);
    if (problem !== undefined) {
      ctx.addIssue({ code: 'custom', message: `${TIMEOUT_RANGE} (this one is ${problem})` });
      return z.NEVER;
    }
    return ms;
  });

const quantity = (what: 'cpu' | 'memory') =>
  z
    .union([z.string(), z.number()], {
      error: what === 'cpu' ? 'a CPU quantity such as 50m or 0.2' : 'a memory quantity such as 128Mi',
    })
    .transform((v, ctx) => {
      const n = parseQuantity(String(v), what);
      if (n === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: what === 'cpu' ? 'a CPU quantity such as 50m or 0.2' : 'a memory quantity such as 128Mi',
        });
        return z.NEVER;
      }
      return n;
    });

/**
 * A docker image reference as distribution/reference v0.6.0 defines it (reference.go grammar,
 * regexp.go): `[host[:port]/]path[:tag][@digest]`, where host is a domain name (components of
 * letters, digits and "-", joined by ".") or an IPv6 address in brackets, and each path component
 * is lowercase letters and digits joined by ".", "_", "__" or dashes. The path is at most 255
 * characters (RepositoryNameTotalLengthMax).
 */
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const IMAGE_NAME = `(?:${HOST}(?::[0-9]+)?/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;

/**
 * kind node image: a reference as above whose tag is the Kubernetes version (`v1.34.0`, as kind
 * tags kindest/node) and which is pinned by a sha256 digest. kind's own default (1.35/1.36 in
 * v0.31/v0.32) is outside Istio 1.28's 1.30-1.34, so the image is never left implicit. Any
 * registry works, including one with a port (`localhost:5000/kindest/node:v1.34.0@sha256:…`).
 */
const NODE_IMAGE_RE = new RegExp(`^(${IMAGE_NAME}):v\\d+\\.\\d+\\.\\d+@sha256:[a-f0-9]{64}$`);
const NODE_IMAGE_EXPECTED =
  'a kind node image pinned by digest, [registry[:port]/]path:v<Kubernetes version>@sha256:<64 hex>, e.g. kindest/node:v1.34.0@sha256:<64 hex> or localhost:5000/kindest/node:v1.34.0@sha256:<64 hex>';

/**
 * The repository path of an image name, without its registry: the first component is a registry
 * when it contains "." or ":", is `localhost`, or has capitals (distribution/reference v0.6.0
 * normalize.go splitDockerDomain).
 */
function imagePath(name: string): string {
  const i = name.indexOf('/');
  if (i < 0) return name;
  const first = name.slice(0, i);
  return /[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase()
    ? name.slice(i + 1)
    : name;
}

const nodeImage = z
  .string()
  .max(512, NODE_IMAGE_EXPECTED)
  .superRefine((v, ctx) => {
    if (v.length > 512) return; // refused by max(); a regex over megabytes is not worth running
    const m = NODE_IMAGE_RE.exec(v);
    if (!m) ctx.addIssue({ code: 'custom', message: NODE_IMAGE_EXPECTED });
    else if (imagePath(m[1] ?? '').length > 255)
      ctx.addIssue({
        code: 'custom',
        message: 'an image repository path of at most 255 characters (distribution/reference)',
      });
  });

/** A path in the profile (relative to its folder): not empty, at most PATH_MAX (4096) characters. */
const filePath = z
  .string()
  .min(1, 'a file path (relative to the profile’s folder, or absolute)')
  .max(4096, 'a file path of at most 4096 characters');

/** [low, high] memory figures, low first. */
const memoryRange = z
  .tuple([quantity('memory'), quantity('memory')])
  .refine(([low, high]) => low <= high, '[low, high] with low at most high, e.g. [10Mi, 15Mi]');

export const ChartName = z.enum(['base', 'istiod', 'cni', 'ztunnel']);
export type ChartName = z.infer<typeof ChartName>;

const release = z.strictObject({
  /** Helm release name, e.g. istio-cni (any name works: nothing looks releases up by name). */
  name: releaseName,
  /** Chart in the Istio repository: base, istiod, cni (not istio-cni), ztunnel. */
  chart: ChartName,
  /** Argo CD sync wave; releases install in ascending wave order. */
  syncWave: z.number().int(),
  /** Values file, relative to the profile's folder (or absolute). */
  valuesFile: filePath.optional(),
  /** Inline values, applied after valuesFile (helm --values order). */
  values: z.record(z.string(), z.unknown()).optional(),
});

const budget = z.strictObject({
  /** Maximum CPU per instance (median over the window must stay under it). */
  cpu: quantity('cpu'),
  /** Maximum working-set memory per instance. */
  memory: quantity('memory'),
});

const leftover = z.strictObject({
  kind: z.string().min(1),
  /** Exact name, or a glob with * */
  name: z.string().min(1),
  namespace: z.string().optional(),
  reason: z.string().min(1),
});

const timeoutKeys = Object.keys(TIMEOUT_DOCS) as [TimeoutKey, ...TimeoutKey[]];

export const ProfileSchema = z.strictObject({
  apiVersion: z.literal('ambient-conformance/v1'),
  kind: z.literal('Profile'),
  metadata: z.strictObject({ name: dns1123, description: z.string().optional() }),
  istio: z.strictObject({
    version: istioVersion,
    /** https Helm repository or oci:// registry path. */
    chartRepository: z
      .string()
      .max(2048, 'a chart repository URL of at most 2048 characters')
      .regex(
        /^(https?|oci):\/\/\S+$/,
        'an https:// Helm repository or an oci:// chart registry (lowercase scheme, as Helm requires)',
      ),
    namespace: dns1123.default('istio-system'),
    releases: z.array(release).min(1),
  }),
  cluster: z.strictObject({
    kind: z.strictObject({
      /** kind cluster config, relative to the profile (nodes, networking); the image is set from nodeImage. */
      config: filePath,
      nodeImage,
    }),
    /** Installs metrics-server (needed by the budgets suite; kind ships none). */
    metricsServer: z.boolean().default(true),
  }),
  mesh: z.strictObject({
    /** Namespaces enrolled with istio.io/dataplane-mode=ambient. */
    meshedNamespaces: z.array(dns1123).min(1),
    /** A namespace that is deliberately not meshed (plaintext control). */
    controlNamespace: dns1123,
    /**
     * Who calls whom between meshed namespaces (besides each namespace itself): what the
     * documented NetworkPolicies are meant to allow, and what NETPOL-01 checks.
     */
    intent: z.array(z.strictObject({ from: dns1123, to: z.array(dns1123).min(1) })).default([]),
  }),
  timeouts: z.partialRecord(z.enum(timeoutKeys), duration).default({}),
  budgets: z.strictObject({
    istiod: budget,
    istioCniNode: budget,
    ztunnel: budget,
    /** BUDGET-03: how much ztunnel memory (all nodes together) one more meshed pod may add. */
    ztunnelMemoryPerPod: quantity('memory').default(512 * 1024),
    /** BUDGET-04: the sidecar mesh to compare with (defaults: the runbook's Linkerd figures). */
    sidecarMesh: z
      .strictObject({
        perSidecarMemory: memoryRange,
        controlPlaneMemory: memoryRange,
      })
      .default({
        perSidecarMemory: [10 * 2 ** 20, 15 * 2 ** 20],
        controlPlaneMemory: [66 * 2 ** 20, 73 * 2 ** 20],
      }),
  }),
  removal: z
    .strictObject({ allowedLeftovers: z.array(leftover).default([]) })
    .default({ allowedLeftovers: [] }),
});

export type ProfileInput = z.input<typeof ProfileSchema>;
export type ProfileDoc = z.output<typeof ProfileSchema>;
export type ReleaseSpec = ProfileDoc['istio']['releases'][number];
