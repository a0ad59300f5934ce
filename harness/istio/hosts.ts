/**
 * Where Istio's charts and images live, and which of those hosts Istio is switching off.
 *
 * Facts (each checked at its source):
 * - Istio retires `https://istio-release.storage.googleapis.com/charts`, `gcr.io/istio-release`
 *   (images and the OCI charts under it) and `registry.istio.io/release` in December 2026; the exact
 *   date is not announced, and the fourth and last "scream test" disables them from
 *   2026-12-08 15:00 UTC to 2026-12-09 15:00 UTC. Sources: Istio 1.31 upgrade notes, "Deprecation of
 *   GCP infrastructure and hosting"; istio.io blog "An update on our move to AWS" (2026-08-21);
 *   blogs retirement-of-gcr.io (2026-03-23) and its follow-up (2026-07-23), istio/istio.io
 *   content/en/blog/2026/.
 * - The replacements: Helm repository `https://blob.istio.io/istio-release/charts`, OCI charts
 *   `oci://ghcr.io/istio/release/charts`, images on `docker.io/istio` (same sources; all charts
 *   of all Istio versions are on the new hosts).
 * - Istio 1.31 and later are not published on the retired chart repository, `gcr.io/istio-release`
 *   or `registry.istio.io` at all (blog retirement-of-gcp, 2026-08-21; Istio 1.31 upgrade notes:
 *   "From Istio 1.31 forwards, we will no longer publish artifacts to …").
 * - The published 1.30 charts default their image hub to `registry.istio.io/release`
 *   (istio/release-builder@release-1.30 release/build.sh sets DOCKER_HUB; blog
 *   retirement-of-gcr.io-follow-up, 2026-07-23: "Istio 1.30 installations use
 *   registry.istio.io/release… All other Istio versions default to docker.io/istio"). 1.28, 1.29
 *   and 1.31 publish `docker.io/istio` (release-builder@release-1.31 build.sh). The plan still sets
 *   the hub explicitly from 1.30 on, so no later chart default can send a run to a retired host.
 * - How the charts pick a hub (istio/istio@1.30.3, manifests/charts): istiod and istio-cni
 *   render `.Values.hub | default .Values.global.hub` (istio-discovery/templates/deployment.yaml,
 *   istio-cni/templates/daemonset.yaml), with `hub: ""` by default; ztunnel renders `.Values.hub`,
 *   after its zzz_profile.yaml has merged `global` over the chart defaults ("Flatten globals"), so
 *   `global.hub` replaces ztunnel's default hub while a top-level `hub` set by the user still wins.
 *   The base chart renders no image.
 */

import { redact } from '../redact.ts';

export type HostUse = 'helm-repository' | 'oci-charts' | 'image';

export interface RetiredHost {
  /** Host and path prefix as written in references, lowercase, without scheme. */
  prefix: string;
  /** What Istio served there. */
  served: HostUse[];
  /** Istio publishes no release from this minor on there (1.31: the chart repository and gcr.io). */
  notPublishedFromMinor?: number;
}

/** The replacement for each use (Istio blog "An update on our move to AWS", 2026-08-21). */
export const REPLACEMENT: Record<HostUse, string> = {
  'helm-repository': 'https://blob.istio.io/istio-release/charts',
  'oci-charts': 'oci://ghcr.io/istio/release/charts',
  image: 'docker.io/istio',
};

/** The image hub this tool sets for Istio 1.30+ when a profile names none. */
export const SAFE_HUB = REPLACEMENT.image;

export const RETIREMENT =
  'which Istio retires in December 2026 (switched off 2026-12-08 15:00 to 2026-12-09 15:00 UTC for the last scream test)';

export const RETIRED_HOSTS: readonly RetiredHost[] = [
  // The GCS bucket behind the classic chart repository. Istio names the virtual-hosted form; the
  // path-style form is the same bucket (derived from how GCS serves buckets, not named by Istio).
  { prefix: 'istio-release.storage.googleapis.com', served: ['helm-repository'], notPublishedFromMinor: 31 },
  { prefix: 'storage.googleapis.com/istio-release', served: ['helm-repository'], notPublishedFromMinor: 31 },
  { prefix: 'gcr.io/istio-release', served: ['oci-charts', 'image'], notPublishedFromMinor: 31 },
  { prefix: 'registry.istio.io/release', served: ['image'], notPublishedFromMinor: 31 },
];

/**
 * The retired host a reference points at, if any. Accepts URLs (`https://…`, `oci://…`) and image
 * references or hubs (`gcr.io/istio-release/pilot:1.28.3`). Hosts compare case-insensitively; the
 * prefix must end at a path boundary (`gcr.io/istio-releases` is not `gcr.io/istio-release`).
 */
export function retiredHostOf(reference: string): RetiredHost | undefined {
  const bare = reference
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .replace(/^[^/@]*@/, '') // user-info in a URL
    .replace(/[?#].*$/, ''); // query and fragment
  const slash = bare.indexOf('/');
  const host = (slash < 0 ? bare : bare.slice(0, slash))
    .toLowerCase()
    .replace(/:443$/, '')
    .replace(/\.$/, ''); // a fully qualified name's trailing dot
  const rest = slash < 0 ? '' : bare.slice(slash);
  const norm = host + rest;
  return RETIRED_HOSTS.find((h) => {
    if (!norm.toLowerCase().startsWith(h.prefix)) return false;
    const next = norm.charAt(h.prefix.length);
    return next === '' || next === '/' || next === ':' || next === '@';
  });
}

/** One place in a profile or values file that names a retired host. */
export interface RetiredHostReference {
  /** The file the reference is written in (profile or values file), absolute. */
  file: string;
  /** Field path inside that file, e.g. `istio.chartRepository` or `global.hub`. */
  field: string;
  /** The same path as keys, relative to the values tree scanned (empty for the chart repository). */
  path: (string | number)[];
  /** What the field is used for. */
  use: HostUse;
  /** The value as written. */
  value: string;
  /** The retired host and path prefix, e.g. `gcr.io/istio-release`. */
  retired: string;
  /** What to write instead. */
  replacement: string;
  /** Set when the profile's Istio version is not published on that host at all. */
  notPublished?: boolean;
}

/** `istio.chartRepository`: Helm repository URL or `oci://` registry path. */
export function chartRepositoryUse(repository: string): HostUse {
  return repository.toLowerCase().startsWith('oci://') ? 'oci-charts' : 'helm-repository';
}

/** Whether `version` is at or after major.minor `1.<minor>` (2.x counts as after every 1.x). */
function fromMinor(version: string, minor: number): boolean {
  const m = /^(\d+)\.(\d+)\./.exec(version);
  if (!m) return false;
  const maj = Number(m[1]);
  return maj > 1 || (maj === 1 && Number(m[2]) >= minor);
}

/**
 * Checks the chart repository of a profile. Returns undefined when the host is not retired.
 * `version` is the Istio version installed from it (e.g. "1.31.0").
 */
export function checkChartRepository(
  file: string,
  field: string,
  repository: string,
  version: string,
): RetiredHostReference | undefined {
  const host = retiredHostOf(repository);
  if (!host) return undefined;
  const use = chartRepositoryUse(repository);
  return {
    file,
    field,
    path: [],
    use,
    value: repository,
    retired: host.prefix,
    replacement: REPLACEMENT[use],
    ...(host.notPublishedFromMinor !== undefined && fromMinor(version, host.notPublishedFromMinor)
      ? { notPublished: true }
      : {}),
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  const safe = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? key : JSON.stringify(key);
  return base === '' ? safe : `${base}.${safe}`;
}

/**
 * Every string in a Helm values tree that names a retired host: `hub` and `global.hub` (and any
 * other `hub` key), image fields (`image`, `global.proxy.image`, …, which take a full reference
 * when they contain a `/`), and any other string (reported as an image reference, since no chart
 * reads a chart repository from its values). `prefix` is prepended to field paths (for inline
 * values, `istio.releases[2].values`).
 */
export function scanValues(
  file: string,
  values: unknown,
  version: string,
  prefix = '',
): RetiredHostReference[] {
  const out: RetiredHostReference[] = [];
  const seen = new Set<object>();
  const walk = (v: unknown, at: string, keys: (string | number)[]): void => {
    if (typeof v === 'string') {
      const host = retiredHostOf(v);
      // Only a hub decides which registry a chart pulls its own version from; an image field
      // names its own tag, and any other string is reported but never refused (an extension
      // provider's address, say, is not an image).
      const hubField = keys.at(-1) === 'hub';
      if (host && host.served.includes('image'))
        out.push({
          file,
          field: at,
          path: keys,
          use: 'image',
          value: v,
          retired: host.prefix,
          replacement: REPLACEMENT.image,
          ...(hubField &&
          host.notPublishedFromMinor !== undefined &&
          fromMinor(version, host.notPublishedFromMinor)
            ? { notPublished: true }
            : {}),
        });
      return;
    }
    if (v === null || typeof v !== 'object' || seen.has(v)) return; // YAML aliases can loop
    seen.add(v);
    if (Array.isArray(v)) v.forEach((item, i) => walk(item, joinPath(at, i), [...keys, i]));
    else for (const [k, item] of Object.entries(v)) walk(item, joinPath(at, k), [...keys, k]);
    seen.delete(v);
  };
  walk(values, prefix, []);
  return out;
}

/** What a field is, in words: "chart repository", "image hub", "image". */
function fieldKind(r: RetiredHostReference): string {
  if (r.use === 'helm-repository') return 'Helm chart repository';
  if (r.use === 'oci-charts') return 'OCI chart repository';
  return /(^|\.)hub$/.test(r.field) ? 'image hub' : 'image reference';
}

/** One line for plan, run, doctor and the report: field, retired host, replacement. */
export function describeRetiredReference(r: RetiredHostReference, displayFile: string): string {
  const instead =
    r.use === 'image' && !/(^|\.)hub$/.test(r.field)
      ? `${r.replacement} (the same image under Istio's Docker Hub organisation)`
      : r.replacement;
  const published = r.notPublished ? '; the profile’s Istio version is not published there at all' : '';
  const value = redact(r.value).replace(/\s+/g, ' ');
  return `${displayFile}: ${r.field} (${fieldKind(r)}) is ${value}, on ${r.retired}, ${RETIREMENT}${published}; use ${instead}`;
}

/**
 * True from Istio 1.30 on: the plan sets the image hub explicitly. 1.30's published charts default
 * to the retired `registry.istio.io/release`; 1.31's went back to `docker.io/istio`, and setting
 * it anyway keeps every later version off a retired registry whatever its charts default to.
 */
export function planSetsHub(version: string): boolean {
  const m = /^(\d+)\.(\d+)\./.exec(version);
  if (!m) return false;
  const major = Number(m[1]);
  return major > 1 || Number(m[2]) >= 30;
}

/** The reason the plan gives for setting the hub, for a given Istio version. */
export function hubReason(version: string): string {
  return /^1\.30\./.test(version)
    ? `Istio ${version}'s published charts default their image hub to registry.istio.io/release, which Istio retires in December 2026`
    : `from Istio 1.30 on the plan sets the hub explicitly (1.30's charts defaulted to the retired registry.istio.io/release)`;
}

/** Charts that render images (base renders none). */
const CHARTS_WITH_IMAGES: ReadonlySet<string> = new Set(['istiod', 'cni', 'ztunnel']);

/**
 * The `--set` the plan adds to a release so that Istio 1.30+ pulls from `docker.io/istio`:
 * `global.hub=docker.io/istio` when the chart renders images and the effective values set no
 * `global.hub`. A top-level `hub` the user set still wins for the chart's own image (see the
 * facts above); `global.hub` also feeds the proxies istiod renders (waypoints, gateways).
 * Returns undefined when nothing is to be set.
 */
export function hubOverride(
  chart: string,
  version: string,
  effectiveValues: Record<string, unknown>,
): string | undefined {
  if (!CHARTS_WITH_IMAGES.has(chart) || !planSetsHub(version)) return undefined;
  const global = effectiveValues.global;
  if (isPlainObject(global) && typeof global.hub === 'string' && global.hub.trim() !== '') return undefined;
  return `global.hub=${SAFE_HUB}`;
}

/**
 * What to tell a user whose chart download failed: the repository that was tried and, for a
 * retired host, its replacement. `output` is helm's stderr and stdout. Returns undefined when the
 * output is not a failed chart download.
 *
 * Shapes of the messages (helm v3.17.2 and v4.1.4, captured here against a loopback server and
 * with DNS failing): Helm's own pkg/repo chartrepo.go "looks like … is not a valid chart
 * repository or cannot be reached" and "chart … version … not found in … repository",
 * pkg/getter/httpgetter.go "failed to fetch <url> : <status>"; for OCI, strings from the
 * registry libraries Helm links (Helm 3: containerd's resolver via oras-go v1, "failed to do
 * request", "unexpected status from HEAD request", "<ref>: not found"; Helm 4: oras-go v2,
 * "failed to perform \"FetchReference\"").
 */
export function explainChartDownload(
  repository: string,
  chart: string,
  version: string,
  output: string,
): { tried: string; fix: string } | undefined {
  const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const download = new RegExp(
    [
      'is not a valid chart repository or cannot be reached',
      `chart "${esc(chart)}" version "${esc(version)}" not found in`,
      'failed to do request',
      'failed to perform "FetchReference"',
      'unexpected status from HEAD request',
      'failed to fetch \\S+ : \\d{3}', // index.yaml or the chart archive (pkg/getter/httpgetter.go)
      `/${esc(chart)}:${esc(version)}: not found`,
    ].join('|'),
  );
  if (!download.test(output)) return undefined;
  const use = chartRepositoryUse(repository);
  const tried =
    use === 'oci-charts'
      ? `${repository.replace(/\/+$/, '')}/${chart}:${version}`
      : `chart ${chart} ${version} from ${repository}`;
  const host = retiredHostOf(repository);
  if (host) {
    return {
      tried,
      fix: `${repository} is on ${host.prefix}, ${RETIREMENT}${host.notPublishedFromMinor !== undefined && fromMinor(version, host.notPublishedFromMinor) ? `, and Istio ${version} was never published there` : ''}: set istio.chartRepository to ${REPLACEMENT[use]}`,
    };
  }
  return {
    tried,
    fix: `check that ${repository} is reachable from this machine and serves chart ${chart} at version ${version}; Istio publishes every version at ${REPLACEMENT['helm-repository']} and ${REPLACEMENT['oci-charts']}`,
  };
}
