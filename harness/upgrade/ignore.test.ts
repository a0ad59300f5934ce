import { readFileSync } from 'node:fs';
import { loadJq as loadWasm } from 'jq-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import type { IgnoreRule } from './gitops.ts';
import {
  applyPatch,
  globMatch,
  jqCompileError,
  loadJq,
  normalize,
  pointerPath,
  ruleMatches,
  type Jq,
} from './ignore.ts';
import { RECORDED_DIR } from './recorded.ts';

/**
 * The jq that evaluates Argo CD's ignore rules here (jqlang/jq 1.8.2 as WebAssembly, npm jq-wasm)
 * against the semantics Argo CD has (gojq v0.12.19, wrapped as `del(<expr>)`,
 * argoproj/argo-cd@v3.5.1 util/argo/normalizers/diff_normalizer.go).
 */
let jq: Jq;
beforeAll(async () => {
  jq = await loadJq();
});

const rule = (r: Partial<IgnoreRule> & { kind: string }): IgnoreRule => ({
  group: '',
  jsonPointers: [],
  jqPathExpressions: [],
  managedFieldsManagers: [],
  ...r,
});

/** A DaemonSet shaped like the charts' (istio-cni-node, 1.28.3), with the API server's defaults. */
const daemonSet = {
  apiVersion: 'apps/v1',
  kind: 'DaemonSet',
  metadata: {
    name: 'istio-cni-node',
    namespace: 'istio-system',
    labels: {
      'app.kubernetes.io/version': '1.28.3',
      'app.kubernetes.io/managed-by': 'Helm',
      'helm.sh/chart': 'cni-1.28.3',
    },
    annotations: { 'deprecated.daemonset.template.generation': '1' },
  },
  spec: {
    revisionHistoryLimit: 10,
    template: {
      spec: {
        dnsPolicy: 'ClusterFirst',
        securityContext: {},
        containers: [
          {
            name: 'install-cni',
            imagePullPolicy: 'IfNotPresent',
            terminationMessagePath: '/dev/termination-log',
            env: [
              {
                name: 'NODE_NAME',
                valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } },
              },
              { name: 'PLAIN', value: 'x' },
            ],
            readinessProbe: {
              httpGet: { path: '/readyz', port: 8000 },
              timeoutSeconds: 1,
              successThreshold: 1,
            },
          },
        ],
        volumes: [
          { name: 'cni-bin-dir', hostPath: { path: '/opt/cni/bin', type: '' } },
          { name: 'cni-netns-dir', emptyDir: {} },
        ],
      },
    },
  },
};

const webhook = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingWebhookConfiguration',
  metadata: { name: 'istiod-default-validator', labels: { 'app.kubernetes.io/managed-by': 'Helm' } },
  webhooks: [
    {
      name: 'validation.istio.io',
      clientConfig: { caBundle: 'Q0E=', service: { name: 'istiod' } },
      failurePolicy: 'Fail',
    },
    { name: 'rev.validation.istio.io', clientConfig: { service: { name: 'istiod' } } },
  ],
};

function del(doc: unknown, expr: string): unknown {
  return applyPatch(jq, doc, { kind: 'jq', expr }).doc;
}

describe('the homelab’s jqPathExpressions (homelab runbook, "ArgoCD shows OutOfSync")', () => {
  it('.webhooks[]?.clientConfig.caBundle removes the bundle from every webhook, with or without one', () => {
    const out = del(webhook, '.webhooks[]?.clientConfig.caBundle') as typeof webhook;
    expect(out.webhooks.map((w) => w.clientConfig)).toEqual([
      { service: { name: 'istiod' } },
      { service: { name: 'istiod' } },
    ]);
    // On an object without webhooks `[]?` yields nothing: the document is unchanged.
    expect(del({ kind: 'X' }, '.webhooks[]?.clientConfig.caBundle')).toEqual({ kind: 'X' });
  });

  it('.metadata.labels["app.kubernetes.io/managed-by"] removes that label only; absent labels are fine', () => {
    const out = del(daemonSet, '.metadata.labels["app.kubernetes.io/managed-by"]') as typeof daemonSet;
    expect(Object.keys(out.metadata.labels)).toEqual(['app.kubernetes.io/version', 'helm.sh/chart']);
    expect(del({ metadata: {} }, '.metadata.labels["meta.helm.sh/release-name"]')).toEqual({ metadata: {} });
  });

  it.each([
    ['.metadata.labels', (d: typeof daemonSet) => d.metadata.labels],
    ['.metadata.annotations', (d: typeof daemonSet) => d.metadata.annotations],
    ['.spec.revisionHistoryLimit', (d: typeof daemonSet) => d.spec.revisionHistoryLimit],
    [
      '.spec.template.spec.containers[].imagePullPolicy',
      (d: typeof daemonSet) => d.spec.template.spec.containers[0]?.imagePullPolicy,
    ],
    [
      '.spec.template.spec.containers[].terminationMessagePath',
      (d: typeof daemonSet) => d.spec.template.spec.containers[0]?.terminationMessagePath,
    ],
    ['.spec.template.spec.dnsPolicy', (d: typeof daemonSet) => d.spec.template.spec.dnsPolicy],
    ['.spec.template.spec.securityContext', (d: typeof daemonSet) => d.spec.template.spec.securityContext],
    [
      '.spec.template.spec.containers[].env[]?.valueFrom.fieldRef.apiVersion',
      (d: typeof daemonSet) => d.spec.template.spec.containers[0]?.env[0]?.valueFrom?.fieldRef.apiVersion,
    ],
    [
      '.spec.template.spec.containers[].readinessProbe.timeoutSeconds',
      (d: typeof daemonSet) => d.spec.template.spec.containers[0]?.readinessProbe.timeoutSeconds,
    ],
    [
      '.spec.template.spec.volumes[]?.hostPath.type',
      (d: typeof daemonSet) => d.spec.template.spec.volumes[0]?.hostPath?.type,
    ],
  ])('%s deletes the field and nothing else', (expr, pick) => {
    const out = del(daemonSet, expr) as typeof daemonSet;
    expect(pick(out)).toBeUndefined();
    expect(pick(daemonSet)).not.toBeUndefined();
    // Everything else is untouched: restoring the field gives the original back.
    expect(JSON.stringify(out).length).toBeLessThan(JSON.stringify(daemonSet).length);
    expect(out.metadata.name).toBe('istio-cni-node');
  });

  it('an expression that errors (iterating a missing list) is skipped and leaves the document, as Argo CD does', () => {
    const r = applyPatch(jq, daemonSet, { kind: 'jq', expr: '.spec.template.spec.initContainers[].image' });
    expect(r.doc).toBe(daemonSet);
    expect(r.skipped).toMatch(/^JQ patch returned error: Cannot iterate over null/);
  });

  it('an expression with several outputs is skipped ("JQ patch returned multiple objects")', () => {
    const r = applyPatch(jq, daemonSet, { kind: 'jq', expr: '.a, .b) , del(.c' });
    expect(r.doc).toBe(daemonSet);
    expect(r.skipped).toBe('JQ patch returned multiple objects');
  });

  it('select() shapes delete from the selected items only', () => {
    const out = del(
      webhook,
      '.webhooks[] | select(.name == "validation.istio.io") | .failurePolicy',
    ) as typeof webhook;
    expect(out.webhooks[0]).not.toHaveProperty('failurePolicy');
    expect(out.webhooks).toHaveLength(2);
  });

  it('reports expressions that do not compile, as gojq.Parse would refuse them', () => {
    expect(jqCompileError(jq, '.metadata.labels[')).toMatch(/syntax error|compile error/i);
    expect(jqCompileError(jq, '.metadata.labels["x"]')).toBeUndefined();
  });
});

describe('jsonPointers (RFC 6902 remove, evanphx/json-patch)', () => {
  it('resolves ~1 and ~0 and array indexes by the container’s type', () => {
    expect(pointerPath(daemonSet, '/metadata/labels/app.kubernetes.io~1version')).toEqual([
      'metadata',
      'labels',
      'app.kubernetes.io/version',
    ]);
    expect(pointerPath(daemonSet, '/spec/template/spec/containers/0/imagePullPolicy')).toEqual([
      'spec',
      'template',
      'spec',
      'containers',
      0,
      'imagePullPolicy',
    ]);
    expect(pointerPath({ 'a~b': 1 }, '/a~0b')).toEqual(['a~b']);
  });

  it('a pointer that does not resolve (missing key, index out of range, "-") is skipped', () => {
    for (const p of [
      '/metadata/nope/x',
      '/spec/template/spec/containers/1',
      '/spec/template/spec/containers/-',
      'metadata',
      '',
    ])
      expect(applyPatch(jq, daemonSet, { kind: 'jsonPointer', expr: p }).skipped).toBeDefined();
  });

  it('array indexes as evanphx/json-patch v5.9.11 reads them: negative from the end, strconv.Atoi forms', () => {
    const doc = { a: [{ x: 1 }, { x: 2 }, { x: 3 }], m: { n: null, s: 'str' } };
    expect(pointerPath(doc, '/a/-1')).toEqual(['a', 2]);
    expect(pointerPath(doc, '/a/-3/x')).toEqual(['a', 0, 'x']);
    expect(pointerPath(doc, '/a/-4')).toBeUndefined(); // below -len
    expect(pointerPath(doc, '/a/01')).toEqual(['a', 1]);
    expect(pointerPath(doc, '/a/+2')).toEqual(['a', 2]);
    expect(pointerPath(doc, '/a/-0')).toEqual(['a', 0]);
    expect(pointerPath(doc, '/a/3')).toBeUndefined();
    expect(pointerPath(doc, '/a/1x')).toBeUndefined();
    expect(pointerPath(doc, '/a/9223372036854775808')).toBeUndefined(); // out of int64: Atoi fails
    // findObject drops the first part: no leading "/" still resolves from the second.
    expect(pointerPath(doc, 'ignored/m')).toEqual(['m']);
    // A null or a scalar in the middle fails; the last part may name a null.
    expect(pointerPath(doc, '/m/n')).toEqual(['m', 'n']);
    expect(pointerPath(doc, '/m/n/x')).toBeUndefined();
    expect(pointerPath(doc, '/m/s/0')).toBeUndefined();
    // One-pass ~ decoding (strings.NewReplacer("~1", "/", "~0", "~")): "~01" is "~1", not "/".
    expect(pointerPath({ '~1': 1 }, '/~01')).toEqual(['~1']);
    const out = applyPatch(jq, daemonSet, {
      kind: 'jsonPointer',
      expr: '/spec/template/spec/containers/-1/imagePullPolicy',
    }).doc as typeof daemonSet;
    expect(out.spec.template.spec.containers[0]).not.toHaveProperty('imagePullPolicy');
  });

  it('removes exactly the pointed field', () => {
    const out = applyPatch(jq, daemonSet, { kind: 'jsonPointer', expr: '/spec/revisionHistoryLimit' })
      .doc as typeof daemonSet;
    expect(out.spec).not.toHaveProperty('revisionHistoryLimit');
    expect(out.spec.template).toEqual(daemonSet.spec.template);
  });
});

describe('which objects a rule applies to (group and kind are gobwas/glob patterns)', () => {
  it.each([
    ['*', '*', daemonSet, true],
    ['apps', 'DaemonSet', daemonSet, true],
    ['apps', 'Deployment', daemonSet, false],
    ['', 'DaemonSet', daemonSet, false],
    ['*.k8s.io', 'ValidatingWebhookConfiguration', webhook, true],
    ['admissionregistration.k8s.io', '*WebhookConfiguration', webhook, true],
    ['', 'ConfigMap', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }, true],
  ])('group %j kind %j', (group, kind, obj, expected) => {
    expect(ruleMatches(rule({ group, kind }), obj)).toBe(expected);
  });

  it('name and namespace, when set, must be equal', () => {
    expect(ruleMatches(rule({ group: 'apps', kind: 'DaemonSet', name: 'ztunnel' }), daemonSet)).toBe(false);
    expect(
      ruleMatches(rule({ group: 'apps', kind: 'DaemonSet', namespace: 'istio-system' }), daemonSet),
    ).toBe(true);
  });

  it('globs: ? is one character, {a,b} alternatives', () => {
    expect(globMatch('Daemon?et', 'DaemonSet')).toBe(true);
    expect(globMatch('{Deployment,DaemonSet}', 'DaemonSet')).toBe(true);
    expect(globMatch('Daemon', 'DaemonSet')).toBe(false);
  });

  it('normalize applies the matching rules in order', () => {
    const out = normalize(
      jq,
      [
        rule({ group: '*', kind: '*', jqPathExpressions: ['.metadata.labels["helm.sh/chart"]'] }),
        rule({ group: 'apps', kind: 'DaemonSet', jsonPointers: ['/spec/revisionHistoryLimit'] }),
      ],
      daemonSet,
    ) as typeof daemonSet;
    expect(out.metadata.labels).not.toHaveProperty('helm.sh/chart');
    expect(out.spec).not.toHaveProperty('revisionHistoryLimit');
  });
});

/** Concatenated JSON values (gojq's expected output, pretty or compact). */
function jsonStream(text: string): unknown[] {
  const out: unknown[] = [];
  let buf = '';
  for (const line of text.split('\n')) {
    buf += `${line}\n`;
    try {
      out.push(JSON.parse(buf));
      buf = '';
    } catch {
      // not a whole value yet
    }
  }
  // Compact outputs put one value per line; a line with several values would be left here.
  if (buf.trim() !== '') throw new Error(`unparsed expected output: ${buf}`);
  return out;
}

/**
 * Where jq 1.8.2 and gojq v0.12.19 differ in these cases, and why it does not touch `del()` of a
 * path: gojq's README lists string indexing as its own extension; the others concern reduce /
 * foreach with an empty update and error texts, not paths.
 */
const KNOWN_DIFFERENCES: Record<string, string> = {
  'string indexing': 'gojq extension ("gojq supports string indexing", README "Difference to jq")',
  'reduce with select in update':
    'reduce with an empty update: jq 1.8 keeps the state, gojq drops it (not a path)',
  'foreach with select in update': 'foreach with an empty update: same as reduce (not a path)',
  'setpath to getpath':
    'the error messages differ in wording ("cannot be applied to" vs "Cannot index"); paths agree',
};

/** Cases not run: a performance test of gojq's own (50 000 single-element slices deleted; jq takes minutes). */
const NOT_RUN: Record<string, string> = {
  'del function against large array with slicing':
    'gojq performance case; jq 1.8 deletes 50 000 slices in about two minutes',
};

describe('gojq v0.12.19’s own test cases for paths and deletion, through this jq', () => {
  const recorded = JSON.parse(readFileSync(`${RECORDED_DIR}gojq-cases.json`, 'utf8')) as {
    source: { tag: string };
    cases: { name: string; query: string; input: string; expected: string }[];
  };

  it('come from gojq v0.12.19 (the version Argo CD v3.5.1 links, go.mod) and cover del and delpaths', () => {
    expect(recorded.source.tag).toBe('v0.12.19');
    expect(recorded.cases.filter((c) => /\bdel(paths)?\b/.test(c.name)).length).toBeGreaterThanOrEqual(8);
  });

  it('give gojq’s answers, apart from the differences listed with their reasons', async () => {
    // The same jq-wasm build ignore.ts loads, fed the cases' input text as gojq reads it (a stream).
    const wasm = await loadWasm();
    const differing: string[] = [];
    for (const c of recorded.cases) {
      if (c.name in NOT_RUN) continue;
      const r = wasm.raw(c.input, c.query, ['-c']);
      const got = r.exitCode === 0 ? jsonStream(r.stdout) : [`error: ${r.stderr}`];
      if (
        JSON.stringify(got) !== JSON.stringify(jsonStream(c.expected)) &&
        !sameUnordered(got, jsonStream(c.expected))
      )
        differing.push(c.name);
    }
    expect(differing.sort()).toEqual(Object.keys(KNOWN_DIFFERENCES).sort());
  });
});

function canon(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canon);
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
    );
  return v;
}

/** Equal once object keys are sorted (gojq does not keep key order). */
function sameUnordered(a: unknown, b: unknown): boolean {
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}
