import { z } from 'zod';
import { TIMEOUT_DOCS, parseDuration, type TimeoutKey } from '../timeouts.ts';
import { parseQuantity } from '../quantity.ts';

/**
 * A profile is one typed description of a run. Its YAML form is what users write; `Profile` is
 * what the code reads after validation and path resolution (see load.ts).
 */

const semver = z.string().regex(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, 'a version such as 1.28.3');

/** Kubernetes DNS-1123 label: namespaces, release names. */
const dns1123 = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a DNS-1123 label (lowercase letters, digits, "-")')
  .max(63);

const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseDuration(String(v));
  } catch {
    ctx.addIssue({ code: 'custom', message: 'a duration such as 90s, 5m or 1m30s' });
    return z.NEVER;
  }
});

const quantity = (what: 'cpu' | 'memory') =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
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
 * kind node image, pinned by digest, with a Kubernetes minor Istio supports. kind's own default
 * (1.35/1.36 in v0.31/v0.32) is outside Istio 1.28's 1.30-1.34, so the image is never left implicit.
 */
const nodeImage = z
  .string()
  .regex(
    /^[a-z0-9./-]+:v\d+\.\d+\.\d+@sha256:[a-f0-9]{64}$/,
    'a kind node image pinned by digest, e.g. kindest/node:v1.34.0@sha256:<64 hex>',
  );

export const ChartName = z.enum(['base', 'istiod', 'cni', 'ztunnel']);
export type ChartName = z.infer<typeof ChartName>;

const release = z.object({
  /** Helm release name, e.g. istio-cni. */
  name: dns1123,
  /** Chart in the Istio repository: base, istiod, cni (not istio-cni), ztunnel. */
  chart: ChartName,
  /** Argo CD sync wave; releases install in ascending wave order. */
  syncWave: z.number().int(),
  /** Values file, relative to the profile's folder (or absolute). */
  valuesFile: z.string().min(1).optional(),
  /** Inline values, applied after valuesFile (helm --values order). */
  values: z.record(z.string(), z.unknown()).optional(),
});

const budget = z.object({
  /** Maximum CPU per instance (median over the window must stay under it). */
  cpu: quantity('cpu'),
  /** Maximum working-set memory per instance. */
  memory: quantity('memory'),
});

const leftover = z.object({
  kind: z.string().min(1),
  /** Exact name, or a glob with * */
  name: z.string().min(1),
  namespace: z.string().optional(),
  reason: z.string().min(1),
});

const timeoutKeys = Object.keys(TIMEOUT_DOCS) as [TimeoutKey, ...TimeoutKey[]];

export const ProfileSchema = z
  .object({
    apiVersion: z.literal('ambient-conformance/v1'),
    kind: z.literal('Profile'),
    metadata: z.object({ name: dns1123, description: z.string().optional() }),
    istio: z.object({
      version: semver,
      /** https Helm repository or oci:// registry path. */
      chartRepository: z
        .string()
        .regex(
          /^(https?|oci):\/\/\S+$/,
          'an https:// Helm repository or an oci:// chart registry (lowercase scheme, as Helm requires)',
        ),
      namespace: dns1123.default('istio-system'),
      releases: z.array(release).min(1),
    }),
    cluster: z.object({
      kind: z.object({
        /** kind cluster config, relative to the profile (nodes, networking); the image is set from nodeImage. */
        config: z.string().min(1),
        nodeImage,
      }),
      /** Installs metrics-server (needed by the budgets suite; kind ships none). */
      metricsServer: z.boolean().default(true),
    }),
    mesh: z.object({
      /** Namespaces enrolled with istio.io/dataplane-mode=ambient. */
      meshedNamespaces: z.array(dns1123).min(1),
      /** A namespace that is deliberately not meshed (plaintext control). */
      controlNamespace: dns1123,
      /**
       * Who calls whom between meshed namespaces (besides each namespace itself): what the
       * documented NetworkPolicies are meant to allow, and what NETPOL-01 checks.
       */
      intent: z.array(z.object({ from: dns1123, to: z.array(dns1123).min(1) }).strict()).default([]),
    }),
    timeouts: z.partialRecord(z.enum(timeoutKeys), duration).default({}),
    budgets: z.object({
      istiod: budget,
      istioCniNode: budget,
      ztunnel: budget,
      /** BUDGET-03: how much ztunnel memory (all nodes together) one more meshed pod may add. */
      ztunnelMemoryPerPod: quantity('memory').default(512 * 1024),
      /** BUDGET-04: the sidecar mesh to compare with (defaults: the runbook's Linkerd figures). */
      sidecarMesh: z
        .object({
          perSidecarMemory: z.tuple([quantity('memory'), quantity('memory')]),
          controlPlaneMemory: z.tuple([quantity('memory'), quantity('memory')]),
        })
        .default({
          perSidecarMemory: [10 * 2 ** 20, 15 * 2 ** 20],
          controlPlaneMemory: [66 * 2 ** 20, 73 * 2 ** 20],
        }),
    }),
    removal: z.object({ allowedLeftovers: z.array(leftover).default([]) }).default({ allowedLeftovers: [] }),
  })
  .strict();

export type ProfileInput = z.input<typeof ProfileSchema>;
export type ProfileDoc = z.output<typeof ProfileSchema>;
export type ReleaseSpec = ProfileDoc['istio']['releases'][number];
