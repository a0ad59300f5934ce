import { badRequest, goQuote } from './apiserver-errors.ts';
import type { KubeObject, ResourceType } from './apiserver-resources.ts';

/**
 * Label and field selectors as the API server reads them from ?labelSelector= and
 * ?fieldSelector= (apimachinery v0.34.0 pkg/labels/selector.go, pkg/fields/selector.go):
 * label requirements `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>1`, `k<1`;
 * field requirements `k=v`, `k==v`, `k!=v`. Parse errors are 400 BadRequest (messages simplified).
 */

export type Matcher = (obj: KubeObject) => boolean;

type LabelOp = '=' | '!=' | 'in' | 'notin' | 'exists' | '!' | '>' | '<';
interface LabelRequirement {
  key: string;
  op: LabelOp;
  values: string[];
}

const KEY = /^([A-Za-z0-9][-A-Za-z0-9_./]*)?[A-Za-z0-9]$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Splits on commas outside parentheses. */
function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of s) {
    if (c === '(') depth += 1;
    if (c === ')') depth -= 1;
    if (c === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function parseLabelRequirement(raw: string): LabelRequirement {
  const s = raw.trim();
  const fail = (why: string) => badRequest(`unable to parse requirement: ${why}`);
  const checkKey = (k: string) => {
    if (!KEY.test(k)) throw fail(`invalid label key ${goQuote(k)}`);
    return k;
  };
  const checkValue = (v: string) => {
    if (v.length > 63 || !VALUE.test(v)) throw fail(`invalid label value: ${goQuote(v)}`);
    return v;
  };
  if (!s) throw fail("found '', expected: identifier");
  if (s.startsWith('!')) return { key: checkKey(s.slice(1).trim()), op: '!', values: [] };
  const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(s);
  if (set) {
    const values = (set[3] ?? '')
      .split(',')
      .map((v) => v.trim())
      .filter((v, i, a) => v !== '' || a.length === 1);
    return { key: checkKey(set[1] ?? ''), op: set[2] as 'in' | 'notin', values: values.map(checkValue) };
  }
  const cmp = /^([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(.*)$/.exec(s);
  if (cmp) {
    const op = cmp[2] === '==' ? '=' : (cmp[2] as LabelOp);
    const value = (cmp[3] ?? '').trim();
    if ((op === '>' || op === '<') && !/^-?\d+$/.test(value))
      throw fail(`for 'Gt', 'Lt' operators, the value must be an integer`);
    return { key: checkKey(cmp[1] ?? ''), op, values: [checkValue(value)] };
  }
  if (/\s/.test(s))
    throw fail(`found ${goQuote(s.split(/\s+/)[1] ?? '')}, expected: in, notin, =, ==, !=, gt, lt`);
  return { key: checkKey(s), op: 'exists', values: [] };
}

export function parseLabelSelector(selector: string | undefined): Matcher {
  if (!selector?.trim()) return () => true;
  const reqs = splitTopLevel(selector).map(parseLabelRequirement);
  return (o) => reqs.every((r) => labelRequirementMatches(r, o.metadata.labels ?? {}));
}

function labelRequirementMatches(r: LabelRequirement, labels: Record<string, string>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const v = labels[r.key];
  switch (r.op) {
    case '=':
    case 'in':
      return has && r.values.includes(v ?? '');
    case '!=':
    case 'notin':
      return !has || !r.values.includes(v ?? '');
    case 'exists':
      return has;
    case '!':
      return !has;
    case '>':
    case '<': {
      if (!has || !/^-?\d+$/.test(v ?? '')) return false;
      const n = Number(v);
      const bound = Number(r.values[0]);
      return r.op === '>' ? n > bound : n < bound;
    }
  }
}

/** A Kubernetes LabelSelector object as the string form (Scale status.selector). */
export function labelSelectorString(sel: unknown): string {
  const s = (sel ?? {}) as {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: string; values?: string[] }[];
  };
  const parts: [string, string][] = Object.entries(s.matchLabels ?? {}).map(([k, v]) => [k, `${k}=${v}`]);
  for (const e of s.matchExpressions ?? []) {
    const vals = [...(e.values ?? [])].sort().join(',');
    const text =
      e.operator === 'In'
        ? `${e.key} in (${vals})`
        : e.operator === 'NotIn'
          ? `${e.key} notin (${vals})`
          : e.operator === 'Exists'
            ? e.key
            : `!${e.key}`;
    parts.push([e.key, text]);
  }
  return parts
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, t]) => t)
    .join(',');
}

/** Field selector terms, split on unescaped commas, with `\,`, `\=` and `\\` unescaped in values. */
function splitFieldTerms(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? '';
    if (c === '\\' && i + 1 < s.length) {
      cur += c + (s[i + 1] ?? '');
      i += 1;
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.filter((t) => t !== '');
}

const unescape = (v: string) => v.replace(/\\(.)/g, '$1');

/** The value a field label has on an object: dotted path, booleans as "true"/"false", absent as "". */
export function fieldValue(o: KubeObject, label: string): string {
  const path = label === 'source' ? ['source', 'component'] : label.split('.');
  let cur: unknown = o;
  for (const p of path)
    cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[p] : undefined;
  if (cur === undefined || cur === null)
    return label === 'spec.hostNetwork' || label === 'spec.unschedulable' ? 'false' : '';
  return typeof cur === 'string' ? cur : JSON.stringify(cur);
}

export function parseFieldSelector(rt: ResourceType, selector: string | undefined): Matcher {
  if (!selector?.trim()) return () => true;
  const reqs = splitFieldTerms(selector).map((term) => {
    const m = /^([^=!]+)(==|=|!=)(.*)$/s.exec(term);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
    const label = (m[1] ?? '').trim();
    if (label !== 'metadata.name' && label !== 'metadata.namespace' && !rt.fieldLabels.includes(label))
      throw badRequest(
        rt.fieldLabels.length
          ? `field label not supported: ${label}`
          : `${goQuote(label)} is not a known field selector: only "metadata.name", "metadata.namespace"`,
      );
    return { label, negate: m[2] === '!=', value: unescape(m[3] ?? '') };
  });
  return (o) => reqs.every((r) => (fieldValue(o, r.label) === r.value) !== r.negate);
}
