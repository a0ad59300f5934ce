import { closest } from '../suggest.ts';

/**
 * Which values keys an Istio chart reads, found in its templates, and whether a user's values
 * only use those.
 *
 * Why not "the key exists in values.yaml": the charts keep their defaults under
 * `_internal_defaults_do_not_set` (since 1.24.0: absent from every values.yaml of the four charts
 * at istio/istio@1.23.0, present at @1.24.0), and the templates read keys that have no default at all
 * (profile files set `pilot.env.*`, `meshConfig` and other free-form maps are read whole). So the
 * inventory is what the templates read:
 * - every `.Values.a.b` chain in templates/ and files/ (the injection templates istiod renders at
 *   run time read the same values, picked into its ConfigMap), after Helm comments are removed and
 *   `(.Values.a).b` parentheses are unwrapped; `index .Values "a" "b"`, `hasKey .Values "a"` and
 *   sprig's `dig "a" "b" <default> .Values` name their keys (the 1.30 and 1.31 charts read
 *   `global.enableReaderRBAC` and `global.readerServiceAccount.*` only through `dig`:
 *   istio/istio@1.30.3 manifests/charts/base/templates/reader-serviceaccount.yaml,
 *   istio-discovery/templates/reader-clusterrole*.yaml), and `pick .Values "a" "b"` (the copy for
 *   those run-time templates) reads nothing by itself. No chart of 1.28.0 to 1.31.0-rc.0 uses
 *   `get` or `pluck` on .Values (git grep of manifests/charts at those tags);
 * - a chain read as a whole (`toYaml .Values.podAnnotations`, `range .Values.env`, `with
 *   .Values.meshConfig`) accepts every key below it, since the template passes the map through;
 * - the bare `.Values` and `.Values._original` (the istiod `values` ConfigMap dumps them "for
 *   debugging purposes") read no key;
 * - the values machinery (templates/zzz_profile.yaml, zzy_descope_legacy.yaml) reads `profile`,
 *   `compatibilityVersion` and `platform` (also under `global`), refuses `defaults`, copies
 *   `cni.*` (cni chart) or `pilot.*` (istiod chart) to the top level, and in the ztunnel chart
 *   merges `global.*` into the top level ("Flatten globals", `{{- if true }}`).
 * Sources: istio/istio@1.28.3..1.31.0-rc.0 manifests/charts/*\/templates/zzz_profile.yaml,
 * zzy_descope_legacy.yaml, istio-discovery/templates/configmap-values.yaml and
 * istiod-injector-configmap.yaml.
 *
 * Known limits: a chain read as a whole hides a misspelling below it (`with .Values.a` and the
 * user's `a.typo`); keys reached through template variables (`$x := .Values.a` then `$x.b`) count
 * as reads of `a` as a whole.
 */

export interface KeyInventory {
  /** Dotted chains the chart's templates read, sorted, e.g. "global.hub", "env". */
  reads: string[];
  /** Top-level keys whose children the chart copies to the top level ("cni", "pilot"). */
  descoped: string[];
  /** True when `global.*` is merged into the top level (ztunnel). */
  flattensGlobal: boolean;
  /** Leaf paths of values.yaml's defaults (`_internal_defaults_do_not_set`), for suggestions. */
  defaults: string[];
}

/**
 * The version of what readsOfTemplate reads: inventories cached from fetched charts
 * (chart-facts.ts) are named after it, so a reader that reads more (2: sprig `dig`) does not
 * serve an inventory an older reader made.
 */
export const INVENTORY_READER = 2;

/** Files of a chart: path relative to the chart folder → text. */
export type ChartFiles = ReadonlyMap<string, string>;

const MACHINERY = /(^|\/)templates\/(zzz_profile\.yaml|zzy_descope_legacy\.yaml)$/;
const IDENT = '[A-Za-z_][A-Za-z0-9_]*';
const CHAIN_RE = new RegExp(`\\$?\\.Values((?:\\.${IDENT})*)`, 'g');

/** `(.Values.a).b` → `.Values.a.b`, repeatedly (`((.Values.a).b).c`). */
function unwrapParens(text: string): string {
  const re = new RegExp(`\\((\\$?\\.Values(?:\\.${IDENT})*)\\)`, 'g');
  let prev: string;
  let cur = text;
  do {
    prev = cur;
    cur = cur.replace(re, '$1');
  } while (cur !== prev);
  return cur;
}

function stripComments(text: string): string {
  return text.replace(/\{\{-?\s*\/\*[\s\S]*?\*\/\s*-?\}\}/g, '');
}

/** Reads of one template text (machinery files: only the profile switches). */
export function readsOfTemplate(text: string, machinery = false): string[] {
  let t = unwrapParens(stripComments(text));
  const out: string[] = [];
  // `index|pick|hasKey <chain> "k1" "k2"`: the named keys, not the chain as a whole.
  const keyed = new RegExp(
    `\\b(index|pick|hasKey)\\s+\\$?\\.Values((?:\\.${IDENT})*)((?:\\s+"[^"]*")+)`,
    'g',
  );
  // `dig "k1" "k2" <default> <map>` (sprig): the keys, then a default (a literal or a
  // parenthesised expression), then the map, here a .Values chain.
  const dig = new RegExp(
    `\\bdig((?:\\s+(?:"(?:[^"\\\\]|\\\\.)*"|\\([^()]*\\)|[^\\s(){}"]+))+?)\\s+\\$?\\.Values((?:\\.${IDENT})*)(?![.\\w])`,
    'g',
  );
  t = t.replace(dig, (_m, args: string, chain: string) => {
    const tokens = [...args.matchAll(/"(?:[^"\\]|\\.)*"|\([^()]*\)|[^\s(){}"]+/g)].map((x) => x[0]);
    const keys = tokens.slice(0, -1); // the last argument is the default
    const base = chain.split('.').filter(Boolean);
    const names: string[] = [];
    for (const k of keys) {
      if (!k.startsWith('"')) break; // a key from a variable: the literal keys before it
      names.push(k.slice(1, -1));
    }
    out.push([...base, ...names].join('.'));
    return ' ';
  });
  t = t.replace(keyed, (_m, fn: string, chain: string, keys: string) => {
    const base = chain.split('.').filter(Boolean);
    const names = [...keys.matchAll(/"([^"]*)"/g)].map((k) => k[1] ?? '');
    // pick copies keys into the values istiod's injection templates (files/) read at run time:
    // those templates' own reads count, not the copied maps as a whole.
    if (fn === 'index') out.push([...base, ...names].join('.'));
    else if (fn === 'hasKey') for (const n of names) out.push([...base, n].join('.'));
    return ' ';
  });
  for (const m of t.matchAll(CHAIN_RE)) {
    const chain = (m[1] ?? '').split('.').filter(Boolean);
    if (chain.length === 0) continue; // the bare .Values: a dump, not a read of any key
    if (chain[0] === '_original') continue; // the values as given, dumped into a ConfigMap
    out.push(chain.join('.'));
  }
  if (!machinery) return out;
  const profileSwitches = new Set([
    'profile',
    'global.profile',
    'compatibilityVersion',
    'platform',
    'global.platform',
  ]);
  return out.filter((c) => profileSwitches.has(c));
}

/** Leaf paths of a values tree (maps descended; lists, scalars and empty maps are leaves). */
export function leafPaths(values: unknown, prefix: string[] = []): string[][] {
  if (values === null || typeof values !== 'object' || Array.isArray(values)) return [prefix];
  const entries = Object.entries(values as Record<string, unknown>);
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([k, v]) => leafPaths(v, [...prefix, k]));
}

/** The inventory of a chart from its files (templates/, files/, values.yaml parsed by the caller). */
export function inventoryOf(files: ChartFiles, defaultsTree: unknown): KeyInventory {
  const reads = new Set<string>();
  const descoped = new Set<string>();
  let flattensGlobal = false;
  for (const [file, text] of files) {
    if (!/^(templates|files)\//.test(file) || /(^|\/)files\/profile-[^/]*\.yaml$/.test(file)) continue;
    if (!/\.(ya?ml|tpl|txt)$/.test(file)) continue;
    const machinery = MACHINERY.test(file);
    for (const r of readsOfTemplate(text, machinery)) reads.add(r);
    if (machinery) {
      for (const m of text.matchAll(/mustMergeOverwrite \$\.Values \(index \$\.Values "([^"]+)"\)/g))
        descoped.add(m[1] ?? '');
      if (
        /\{\{-?\s*if true\s*\}\}\s*\{\{-?\s*\$a := mustMergeOverwrite \$defaults \(\$profile\.global\)/.test(
          text,
        )
      )
        flattensGlobal = true;
    }
  }
  return {
    reads: [...reads].sort(),
    descoped: [...descoped].sort(),
    flattensGlobal,
    defaults: leafPaths(defaultsTree)
      .map((p) => p.join('.'))
      .filter(Boolean)
      .sort(),
  };
}

const isPrefix = (a: readonly string[], b: readonly string[]) =>
  a.length <= b.length && a.every((s, i) => s === b[i]);

/** The paths a user key stands for once the chart's machinery has moved it. */
function variants(path: readonly string[], inv: KeyInventory): string[][] {
  const out = [path.slice()];
  const [head, ...rest] = path;
  if (head !== undefined && inv.descoped.includes(head)) out.push(rest);
  if (head === 'global' && inv.flattensGlobal) out.push(rest);
  return out;
}

export interface UnknownKey {
  /** Dotted path as the user wrote it. */
  key: string;
  /** Why it is not read, with a suggestion when one is close. */
  why: string;
  suggestion?: string;
}

/**
 * The user's keys that the chart does not read. A key is read when a template reads it, a map
 * above it as a whole, or a key below it (the user set a map the chart descends into).
 */
export function unknownKeys(values: unknown, inv: KeyInventory): UnknownKey[] {
  const reads = inv.reads.map((r) => r.split('.'));
  const known = [...new Set([...inv.reads, ...inv.defaults])];
  const out: UnknownKey[] = [];
  for (const path of leafPaths(values)) {
    if (path.length === 0) continue;
    const ok = variants(path, inv).some(
      (v) => v.length > 0 && reads.some((r) => isPrefix(r, v) || isPrefix(v, r)),
    );
    if (ok) continue;
    const key = path.join('.');
    const inDefaults = inv.defaults.some((d) => d === key || d.startsWith(`${key}.`));
    const suggestion = closest(key, known);
    out.push({
      key,
      why: inDefaults
        ? 'values.yaml has a default for it, but no template reads it'
        : 'no template reads it and values.yaml has no default for it',
      ...(suggestion === undefined || suggestion === key ? {} : { suggestion }),
    });
  }
  return out;
}
