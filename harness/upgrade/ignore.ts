import picomatch from 'picomatch';
import type { IgnoreRule } from './gitops.ts';

/**
 * Argo CD's ignoreDifferences, applied to one object as Argo CD applies them
 * (argoproj/argo-cd@v3.5.1 util/argo/normalizers/diff_normalizer.go):
 * - A rule matches when glob `group` matches the object's API group, glob `kind` its kind, and
 *   `name`/`namespace`, when set, are equal (`glob.Match`, gobwas/glob; util/glob/glob.go).
 * - Each `jsonPointers` entry is a JSON Patch `remove` (evanphx/json-patch v5.9.11, pointerPath
 *   below); each
 *   `jqPathExpressions` entry runs as `del(<expr>)` under gojq v0.12.19 (go.mod) and must yield
 *   exactly one value ("JQ patch did not return any data" / "returned multiple objects"
 *   otherwise). Patches apply in order, pointers of a rule before its jq expressions; a patch that
 *   fails (missing path, jq error, no or several outputs) is skipped and the document stays as it
 *   was (Normalize: `continue`).
 * - `managedFieldsManagers` removes the fields the named managers own in the live object's
 *   managedFields (util/argo/managedfields/managed_fields.go): it needs live objects, which an
 *   offline plan does not have, so such rules are reported as not evaluated.
 *
 * jq: gojq is Go; no build of it is published on npm. This runs jqlang/jq 1.8.2 compiled to
 * WebAssembly (npm jq-wasm), loaded on first use. harness/upgrade/ignore.test.ts runs gojq
 * v0.12.19's own test cases for del, paths and the optional operator through it, and every
 * expression shape of the homelab's rules, so a difference between the two shows as a failing
 * test. The 1 s execution limit Argo CD sets is not enforced here.
 */

export interface Jq {
  /** Every output of `filter` on `input`, or the error jq reported. */
  run(input: unknown, filter: string): { outputs: unknown[] } | { error: string };
}

let jqPromise: Promise<Jq> | undefined;

/** jq, loaded once (the WebAssembly module is only read when a plan has ignore rules). */
export function loadJq(): Promise<Jq> {
  jqPromise ??= import('jq-wasm').then(async ({ loadJq: load }) => {
    const jq = await load();
    return {
      run(input: unknown, filter: string) {
        const r = jq.raw(input as object, filter, ['-c']);
        if (r.exitCode !== 0)
          return {
            error: (r.stderr.trim() || `jq exited ${r.exitCode}`).replace(
              /^jq: error(?: \(at [^)]*\))?: /,
              '',
            ),
          };
        const outputs = r.stdout
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => JSON.parse(l) as unknown);
        return { outputs };
      },
    };
  });
  return jqPromise;
}

/** An object's API group: the part of apiVersion before "/", "" for the core group. */
export function groupOf(obj: Record<string, unknown>): string {
  const av = typeof obj.apiVersion === 'string' ? obj.apiVersion : '';
  return av.includes('/') ? av.slice(0, av.indexOf('/')) : '';
}

function meta(obj: Record<string, unknown>): { name: string; namespace: string } {
  const m = (obj.metadata ?? {}) as Record<string, unknown>;
  return {
    name: typeof m.name === 'string' ? m.name : '',
    namespace: typeof m.namespace === 'string' ? m.namespace : '',
  };
}

const globCache = new Map<string, (s: string) => boolean>();

/** gobwas/glob without separators: `*` any run, `?` one character, `[…]`, `{a,b}`. */
export function globMatch(pattern: string, text: string): boolean {
  if (pattern === '') return text === ''; // glob.Compile("") matches only the empty string
  let m = globCache.get(pattern);
  if (!m) {
    // No path separators in API groups or kinds; dot:true so "*" also matches a leading ".".
    m = picomatch(pattern, { dot: true, noextglob: true, nonegate: true, noglobstar: true });
    globCache.set(pattern, m);
  }
  return m(text);
}

export function ruleMatches(rule: IgnoreRule, obj: Record<string, unknown>): boolean {
  const { name, namespace } = meta(obj);
  return (
    globMatch(rule.group, groupOf(obj)) &&
    globMatch(rule.kind, typeof obj.kind === 'string' ? obj.kind : '') &&
    (rule.name === undefined || rule.name === name) &&
    (rule.namespace === undefined || rule.namespace === namespace)
  );
}

/**
 * Go's strconv.Atoi as evanphx/json-patch uses it for array indexes: an optional sign, decimal
 * digits (leading zeros allowed), within int64; undefined otherwise.
 */
function atoi(t: string): number | undefined {
  if (!/^[+-]?\d+$/.test(t)) return undefined;
  const n = BigInt(t);
  if (n > 9223372036854775807n || n < -9223372036854775808n) return undefined;
  return Number(n);
}

/** An array index as partialArray.get/remove resolve it (negative: from the end), or undefined. */
function arrayIndex(arr: readonly unknown[], t: string): number | undefined {
  let idx = atoi(t);
  if (idx === undefined) return undefined;
  if (idx < 0) {
    // SupportNegativeIndices defaults to true in v5.9.11: -1 is the last element.
    if (idx < -arr.length) return undefined;
    idx += arr.length;
  }
  return idx >= arr.length ? undefined : idx;
}

/**
 * A pointer as the path of keys evanphx/json-patch v5.9.11 (the non-module package Argo CD
 * v3.5.1 imports, go.mod "github.com/evanphx/json-patch v5.9.11+incompatible") removes in `doc`,
 * with array indexes resolved to non-negative numbers, or undefined when its remove fails (then
 * Argo CD skips the patch). As patch.go findObject and partialDoc/partialArray do:
 * - the pointer is split on "/" and the first part dropped, so a pointer without a leading "/"
 *   still resolves from its second part ("spec/replicas" removes top-level "replicas"), and one
 *   without any "/" (also "") fails;
 * - each part is decoded with strings.NewReplacer("~1", "/", "~0", "~") (one pass);
 * - in an array, a part is strconv.Atoi'd: "+1", "01" and negative indexes count ("-1" is the
 *   last element, down to -len); "-" and anything else fail; in an object, the key must exist.
 */
export function pointerPath(doc: unknown, pointer: string): (string | number)[] | undefined {
  const split = pointer.split('/');
  if (split.length < 2) return undefined;
  const decode = (t: string) => t.replace(/~[01]/g, (m) => (m === '~1' ? '/' : '~'));
  const parts = split.slice(1, -1).map(decode);
  const key = decode(split.at(-1) ?? '');
  const path: (string | number)[] = [];
  const isMap = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v);
  let cur: unknown = doc;
  for (const part of parts) {
    let next: unknown;
    if (Array.isArray(cur)) {
      const idx = arrayIndex(cur, part);
      if (idx === undefined) return undefined;
      path.push(idx);
      next = cur[idx];
    } else if (isMap(cur)) {
      if (!Object.hasOwn(cur, part)) return undefined;
      path.push(part);
      next = cur[part];
    } else return undefined;
    // A null or scalar in the middle of the path: findObject fails (nil node, or intoDoc error).
    if (!Array.isArray(next) && !isMap(next)) return undefined;
    cur = next;
  }
  if (Array.isArray(cur)) {
    const idx = arrayIndex(cur, key);
    if (idx === undefined) return undefined;
    path.push(idx);
  } else if (isMap(cur) && Object.hasOwn(cur, key)) path.push(key);
  else return undefined;
  return path;
}

/** One patch of a rule, as Argo CD builds them (pointers first, then jq expressions). */
export interface Patch {
  kind: 'jsonPointer' | 'jq';
  expr: string;
}

export function patchesOf(rule: IgnoreRule): Patch[] {
  return [
    ...rule.jsonPointers.map((expr) => ({ kind: 'jsonPointer' as const, expr })),
    ...rule.jqPathExpressions.map((expr) => ({ kind: 'jq' as const, expr })),
  ];
}

export interface PatchOutcome {
  doc: unknown;
  /** Why the patch was skipped (the document is then unchanged). */
  skipped?: string;
}

/** Applies one patch; a failing one leaves the document as it was, as Argo CD does. */
export function applyPatch(jq: Jq, doc: unknown, patch: Patch): PatchOutcome {
  if (patch.kind === 'jsonPointer') {
    const p = pointerPath(doc, patch.expr);
    if (p === undefined) return { doc, skipped: `remove ${patch.expr}: path not found` };
    const r = jq.run(doc, `delpaths([${JSON.stringify(p)}])`);
    if ('error' in r || r.outputs.length !== 1) return { doc, skipped: `remove ${patch.expr} failed` };
    return { doc: r.outputs[0] };
  }
  const r = jq.run(doc, `del(${patch.expr})`);
  if ('error' in r) return { doc, skipped: `JQ patch returned error: ${r.error}` };
  if (r.outputs.length === 0) return { doc, skipped: 'JQ patch did not return any data' };
  if (r.outputs.length > 1) return { doc, skipped: 'JQ patch returned multiple objects' };
  return { doc: r.outputs[0] };
}

/**
 * Whether a jq expression compiles as `del(<expr>)` (gojq.Parse + Compile in NewIgnoreNormalizer):
 * undefined, or jq's error as one line, without the location in the wrapper this compiles it in
 * (`if false then del(…) else . end`, so nothing is evaluated) nor jq's source excerpt.
 */
export function jqCompileError(jq: Jq, expr: string): string | undefined {
  const r = jq.run(null, `if false then del(${expr}) else . end`);
  if (!('error' in r)) return undefined;
  const first = r.error.split('\n')[0] ?? '';
  return first.replace(/\s+at <top-level>, line \d+, column \d+:?$/, '').replace(/:$/, '') || 'compile error';
}

/** The object after every matching rule of `rules` (managedFieldsManagers left out, see above). */
export function normalize(jq: Jq, rules: readonly IgnoreRule[], obj: Record<string, unknown>): unknown {
  let doc: unknown = obj;
  for (const rule of rules) {
    if (!ruleMatches(rule, obj)) continue;
    for (const patch of patchesOf(rule)) doc = applyPatch(jq, doc, patch).doc;
  }
  return doc;
}
