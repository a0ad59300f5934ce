import type { IgnoreRule } from './gitops.ts';
import { applyPatch, groupOf, patchesOf, ruleMatches, type Jq } from './ignore.ts';

/**
 * Changes a chart makes between two versions that an Application's ignoreDifferences hide.
 *
 * Argo CD compares desired and live after normalising both with the rules; with
 * `RespectIgnoreDifferences=true` a sync also copies the live value of every ignored field into
 * what it applies (argoproj/argo-cd@v3.5.1 controller/sync.go normalizeTargetResources). So a
 * field the new chart changes under an ignore rule is neither shown as drift nor applied: the
 * live object keeps the old version's value. Without that option the sync applies it, but the
 * rule still hides it from the diff.
 *
 * Method: for every object rendered at both versions (same group, kind, namespace and name), the
 * leaf fields that differ between the two renders, minus those that still differ once both are
 * normalised, are the masked ones; each is attributed to the patches that hide it on their own.
 * The old version's render stands in for the live object (no API-server defaults, no runtime
 * mutations: those are not changes the chart makes).
 */

export interface ChangedField {
  /** jq-style path, e.g. `.metadata.labels["app.kubernetes.io/version"]`. */
  path: string;
  before: unknown;
  after: unknown;
}

function seg(key: string | number): string {
  if (typeof key === 'number') return `[${key}]`;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Leaf-level differences (objects by key, arrays by index; a missing side is undefined). */
export function diffFields(a: unknown, b: unknown, at = ''): ChangedField[] {
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => diffFields(a[k], b[k], `${at}${seg(k)}`));
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.max(a.length, b.length);
    return Array.from({ length: n }, (_, i) => diffFields(a[i], b[i], `${at}[${i}]`)).flat();
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  return [{ path: at || '.', before: a, after: b }];
}

export function objectId(obj: Record<string, unknown>): string {
  const m = isObj(obj.metadata) ? obj.metadata : {};
  const ns = typeof m.namespace === 'string' && m.namespace !== '' ? `${m.namespace}/` : '';
  const group = groupOf(obj);
  return `${String(obj.kind)}${group === '' ? '' : `.${group}`} ${ns}${String(m.name)}`;
}

export interface MaskedChange extends ChangedField {
  /** e.g. "DaemonSet.apps istio-system/ztunnel" */
  object: string;
  /** The rule entries that hide it on their own: `kind DaemonSet: .metadata.labels`. */
  hiddenBy: string[];
}

export interface MaskingResult {
  masked: MaskedChange[];
  /** Objects rendered at both versions and compared. */
  compared: number;
  /** Patches that failed on some object (skipped, as Argo CD skips them). */
  skipped: string[];
}

function applyRules(
  jq: Jq,
  rules: readonly IgnoreRule[],
  obj: Record<string, unknown>,
  skipped: Set<string>,
): unknown {
  let doc: unknown = obj;
  for (const rule of rules) {
    if (!ruleMatches(rule, obj)) continue;
    for (const patch of patchesOf(rule)) {
      const r = applyPatch(jq, doc, patch);
      if (r.skipped !== undefined && !/path not found|Cannot iterate over null/.test(r.skipped))
        skipped.add(`${rule.kind} ${patch.expr}: ${r.skipped}`);
      doc = r.doc;
    }
  }
  return doc;
}

export function maskedChanges(
  jq: Jq,
  rules: readonly IgnoreRule[],
  before: readonly Record<string, unknown>[],
  after: readonly Record<string, unknown>[],
): MaskingResult {
  const old = new Map(before.map((o) => [objectId(o), o]));
  const masked: MaskedChange[] = [];
  const skipped = new Set<string>();
  let compared = 0;
  for (const b of after) {
    const id = objectId(b);
    const a = old.get(id);
    if (!a) continue;
    compared++;
    if (JSON.stringify(a) === JSON.stringify(b)) continue;
    if (!rules.some((r) => ruleMatches(r, b))) continue;
    const raw = diffFields(a, b);
    const visible = new Set(
      diffFields(applyRules(jq, rules, a, skipped), applyRules(jq, rules, b, skipped)).map((c) => c.path),
    );
    const hidden = raw.filter((c) => !visible.has(c.path));
    if (hidden.length === 0) continue;
    // Attribution: each matching patch on its own.
    const byPatch: { label: string; visible: Set<string> }[] = [];
    for (const rule of rules) {
      if (!ruleMatches(rule, b)) continue;
      for (const patch of patchesOf(rule)) {
        const one = {
          ...rule,
          jsonPointers: patch.kind === 'jsonPointer' ? [patch.expr] : [],
          jqPathExpressions: patch.kind === 'jq' ? [patch.expr] : [],
        };
        const seen = new Set<string>();
        byPatch.push({
          label: `group ${JSON.stringify(rule.group)} kind ${rule.kind}: ${patch.expr}`,
          visible: new Set(
            diffFields(applyRules(jq, [one], a, seen), applyRules(jq, [one], b, seen)).map((c) => c.path),
          ),
        });
      }
    }
    for (const c of hidden)
      masked.push({
        ...c,
        object: id,
        hiddenBy: byPatch.filter((p) => !p.visible.has(c.path)).map((p) => p.label),
      });
  }
  return { masked, compared, skipped: [...skipped] };
}
