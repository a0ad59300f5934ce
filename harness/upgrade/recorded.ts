import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import type { KeyInventory } from './chart-keys.ts';
import type { Chart } from './hops.ts';

/**
 * Facts recorded from the real charts by scripts/upgrade-inventory.ts (its header says how to
 * re-record), so that the plan and its tests run offline:
 * - recorded/chart-keys.json: per Istio version and chart, the values keys the templates read
 *   (chart-keys.ts), for every stable tag of 1.28-1.30 in the istio/istio mirror.
 * - recorded/renders-<version>.json.gz: per version, the objects each chart renders for a given
 *   release, namespace and values (the homelab Applications of profiles/homelab/argocd), as
 *   `helm template` prints them, keyed by renderKey.
 * Versions the mirror lacks (1.29.7+, 1.30.4+, 1.31.x) are not recorded; the plan says so.
 */
export const RECORDED_DIR = fileURLToPath(new URL('./recorded/', import.meta.url));

export interface RecordedKeys {
  source: { repository: string; mirror: string; generatedBy: string };
  /** version → chart → inventory id */
  versions: Record<string, Record<Chart, string>>;
  /** inventory id → inventory, with the tag and commit it was first read at */
  inventories: Record<string, KeyInventory & { firstSeen: { tag: string; commit: string } }>;
}

export interface RenderRequest {
  chart: Chart;
  release: string;
  namespace: string;
  values: Record<string, unknown>;
}

export interface RecordedRender {
  key: string;
  request: RenderRequest;
  objects: Record<string, unknown>[];
}

export interface RecordedRenders {
  source: {
    repository: string;
    tag: string;
    commit: string;
    helm: string;
    kubeVersion: string;
    stamp: string;
    generatedBy: string;
  };
  renders: RecordedRender[];
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  return v;
}

/** The key of a render: chart, release, namespace and values, as canonical JSON, hashed. */
export function renderKey(r: RenderRequest): string {
  return createHash('sha256')
    .update(JSON.stringify(canonical(r)))
    .digest('hex')
    .slice(0, 16);
}

let keysCache: RecordedKeys | undefined;

export function recordedKeys(dir = RECORDED_DIR): RecordedKeys {
  if (dir === RECORDED_DIR && keysCache) return keysCache;
  const file = `${dir}chart-keys.json`;
  const keys = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as RecordedKeys)
    : { source: { repository: '', mirror: '', generatedBy: '' }, versions: {}, inventories: {} };
  if (dir === RECORDED_DIR) keysCache = keys;
  return keys;
}

/** The recorded inventory of a chart at a version, with where it was read. */
export function recordedInventory(
  chart: Chart,
  version: string,
  dir = RECORDED_DIR,
): { inventory: KeyInventory; source: string } | undefined {
  const keys = recordedKeys(dir);
  const id = keys.versions[version]?.[chart];
  const inv = id === undefined ? undefined : keys.inventories[id];
  if (!inv) return undefined;
  return { inventory: inv, source: `istio/istio tag ${version} (recorded by ${keys.source.generatedBy})` };
}

/** Versions with recorded inventories. */
export function recordedVersions(dir = RECORDED_DIR): string[] {
  return Object.keys(recordedKeys(dir).versions);
}

const renderCache = new Map<string, RecordedRenders | undefined>();

export function rendersFileName(version: string): string {
  return `renders-${version}.json.gz`;
}

export function recordedRenders(version: string, dir = RECORDED_DIR): RecordedRenders | undefined {
  const file = `${dir}${rendersFileName(version)}`;
  if (renderCache.has(file)) return renderCache.get(file);
  const value = existsSync(file)
    ? (JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as RecordedRenders)
    : undefined;
  renderCache.set(file, value);
  return value;
}

/** The recorded render for a request at a version, if any. */
export function recordedRender(
  version: string,
  request: RenderRequest,
  dir = RECORDED_DIR,
): { objects: Record<string, unknown>[]; source: string } | undefined {
  const file = recordedRenders(version, dir);
  if (!file) return undefined;
  const key = renderKey(request);
  const hit = file.renders.find((r) => r.key === key);
  if (!hit) return undefined;
  return {
    objects: hit.objects,
    source: `helm ${file.source.helm} template of istio/istio tag ${version}, stamped as ${file.source.stamp}, --kube-version ${file.source.kubeVersion} (recorded)`,
  };
}
