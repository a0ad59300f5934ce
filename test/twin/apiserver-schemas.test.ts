import * as clientNode from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { markerLease } from '../../harness/kube/marker.ts';
import { toTyped, toWire } from '../../harness/kube/wire.ts';
import { denyAll, documentedPolicies, policy, tcp } from '../../harness/netpol/policies.ts';
import { capturePod } from '../../harness/ztunnel/capture-live.ts';
import { clientPod, dualPortServerPod, pauseDeployment, probeServerPod } from '../../harness/workloads.ts';
import { invalid } from './apiserver-errors.ts';
import { builtinTypes, type KubeObject, type ResourceType } from './apiserver-resources.ts';
import {
  NOT_IN_V1_34,
  appliedUnknownFields,
  goSprint,
  modelFields,
  modelTypeFor,
  parseJsonNodes,
  patchBodyErrors,
  strictDecode,
  validateBuiltin,
  valueOf,
} from './apiserver-schemas.ts';

const types = builtinTypes();
const rt = (kind: string): ResourceType => {
  const t = types.find((x) => x.kind === kind);
  if (!t) throw new Error(kind);
  return t;
};
const decode = (kind: string, raw: string) => strictDecode(rt(kind), JSON.parse(raw), { raw });
/** The 422 message validateBuiltin's errors make (as the API server sends them). */
function problems(kind: string, o: object, op: 'create' | 'update' = 'create'): string {
  const errs = validateBuiltin(rt(kind), o as KubeObject, op);
  if (!errs.length) return '';
  const t = rt(kind);
  return invalid({ group: t.group, kind: t.kind }, (o as KubeObject).metadata?.name ?? '', errs).message;
}
const pod = (spec: object, metadata: object = { name: 'p' }) => ({ metadata, spec });
const ctr = (extra: object = {}) => ({ name: 'c', image: 'img', ...extra });

describe('schemas from client-node’s models', () => {
  it('finds the model of every built-in kind the twin writes', () => {
    const models = Object.fromEntries(types.map((t) => [`${t.group}/${t.kind}`, modelTypeFor(t)]));
    expect(models).toMatchObject({
      '/Pod': 'V1Pod',
      '/Event': 'CoreV1Event',
      '/Namespace': 'V1Namespace',
      'apps/Deployment': 'V1Deployment',
      'networking.k8s.io/NetworkPolicy': 'V1NetworkPolicy',
      'rbac.authorization.k8s.io/ClusterRoleBinding': 'V1ClusterRoleBinding',
      'admissionregistration.k8s.io/MutatingWebhookConfiguration': 'V1MutatingWebhookConfiguration',
      'apiextensions.k8s.io/CustomResourceDefinition': 'V1CustomResourceDefinition',
      'coordination.k8s.io/Lease': 'V1Lease',
      'apiregistration.k8s.io/APIService': 'V1APIService',
    });
    const missing = types.filter((t) => !modelTypeFor(t)).map((t) => `${t.group}/${t.kind}`);
    expect(missing).toEqual(['metrics.k8s.io/PodMetrics', 'metrics.k8s.io/NodeMetrics']);
  });

  it('leaves out the fields Kubernetes v1.34 does not have, each of them a field of its model', () => {
    for (const entry of NOT_IN_V1_34) {
      const [model = '', field = ''] = entry.split('.');
      expect(modelFieldsRaw(model), entry).toContain(field);
      expect(modelFields(model)?.has(field), entry).toBe(false);
    }
    expect(decode('Pod', '{"metadata":{"name":"p"},"spec":{"schedulingGroup":{}}}').errors).toEqual([
      'unknown field "spec.schedulingGroup"',
    ]);
  });

  it('reports unknown fields at every depth with the decoder’s paths, in the body’s order', () => {
    const raw = JSON.stringify({
      zzz: 1,
      metadata: { name: 'p', labels: { 'any-key': 'v' }, Name: 'x' },
      spec: {
        containers: [
          ctr(),
          {
            ...ctr({ name: 'd' }),
            foo: 1,
            ports: [{ containerPort: 80, bar: 2 }],
            resources: { requests: { cpu: '1' } },
          },
        ],
        affinity: { nodeAffinity: { baz: true } },
      },
    });
    const { errors, object } = decode('Pod', raw);
    expect(errors).toEqual([
      'unknown field "zzz"',
      'unknown field "metadata.Name"',
      'unknown field "spec.containers[1].foo"',
      'unknown field "spec.containers[1].ports[0].bar"',
      'unknown field "spec.affinity.nodeAffinity.baz"',
    ]);
    expect(object).toEqual({
      metadata: { name: 'p', labels: { 'any-key': 'v' } },
      spec: {
        containers: [
          ctr(),
          { ...ctr({ name: 'd' }), ports: [{ containerPort: 80 }], resources: { requests: { cpu: '1' } } },
        ],
        affinity: { nodeAffinity: {} },
      },
    });
  });

  it('does not look into free-form values (RawExtension, JSON, FieldsV1) or maps’ keys', () => {
    const crd = {
      metadata: { name: 'as.g', managedFields: [{ manager: 'm', fieldsV1: { 'f:spec': {} } }] },
      spec: {
        group: 'g',
        names: { plural: 'as', kind: 'A' },
        scope: 'Namespaced',
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: {
                  spec: {
                    type: 'object',
                    default: { anything: 1 },
                    'x-kubernetes-preserve-unknown-fields': true,
                  },
                },
              },
            },
          },
        ],
      },
    };
    expect(decode('CustomResourceDefinition', JSON.stringify(crd)).errors).toEqual([]);
    const cm = { metadata: { name: 'c' }, data: { 'odd.key': 'v' }, binaryData: { b: 'AA==' } };
    expect(decode('ConfigMap', JSON.stringify(cm)).errors).toEqual([]);
  });

  it('reports repeated keys (sigs.k8s.io/json duplicate field), each text once, at most 100', () => {
    const raw =
      '{"metadata":{"name":"a","name":"b","labels":{"x":"1","x":"2"}},"spec":{"containers":[{"name":"c","image":"i","image":"j"}],"foo":1,"foo":2}}';
    const { errors, object } = decode('Pod', raw);
    expect(errors).toEqual([
      'duplicate field "metadata.name"',
      'duplicate field "metadata.labels.x"',
      'duplicate field "spec.containers[0].image"',
      'unknown field "spec.foo"',
    ]);
    expect(object.metadata).toEqual({ name: 'b', labels: { x: '2' } });
    const many = `{"metadata":{"name":"a"},${Array.from({ length: 150 }, (_, i) => `"f${i}":1`).join(',')}}`;
    expect(decode('ConfigMap', many).errors).toHaveLength(100);
  });

  it('parses JSON with its keys in order and repeats kept', () => {
    const n = parseJsonNodes(' {"b": [1, "x\\"y", {"c": null}], "a": true, "b": -1.5e3 } ');
    expect(n.t === 'object' && n.entries.map(([k]) => k)).toEqual(['b', 'a', 'b']);
    expect(valueOf(n)).toEqual({ b: -1500, a: true });
    expect(valueOf(parseJsonNodes('[]'))).toEqual([]);
  });

  it('orders a patched object’s errors as upstream decodes it: sorted keys, or sorted texts', () => {
    const patched = { spec: { zz: 1, containers: [ctr({ b: 1, a: 2 })] }, metadata: { name: 'p' } };
    expect(strictDecode(rt('Pod'), patched, { order: 'sorted-keys' }).errors).toEqual([
      'unknown field "spec.containers[0].a"',
      'unknown field "spec.containers[0].b"',
      'unknown field "spec.zz"',
    ]);
    const sorted = strictDecode(
      rt('Pod'),
      { spec: { b10: 1, b9: 2 }, metadata: {} },
      { order: 'sorted-errors' },
    );
    expect(sorted.errors).toEqual(['unknown field "spec.b10"', 'unknown field "spec.b9"']);
  });

  it('reads a patch body strictly as handlers/patch.go does', () => {
    expect(patchBodyErrors('json', '[{"op":"add","path":"/a","value":{"x":1,"x":2},"foo":1}]')).toEqual([
      'json patch duplicate field "[0].value.x"',
      'json patch unknown field "[0].foo"',
    ]);
    expect(patchBodyErrors('merge', '{"spec":{"a":1,"a":2}}')).toEqual(['duplicate field "spec.a"']);
    expect(patchBodyErrors('strategic', '{"spec":{"a":1}}')).toEqual([]);
  });

  it('names unknown fields of an applied configuration as structured-merge-diff does', () => {
    expect(appliedUnknownFields(rt('Pod'), pod({ containers: [ctr({ foo: 1 })] }))).toEqual([
      '.spec.containers[0].foo',
    ]);
  });

  it('prints a strategic merge patch as Go’s %v of the map', () => {
    expect(goSprint({ spec: { b: [1, 'x', true], a: null, c: 1.5, d: 1234567.5 } })).toBe(
      'map[spec:map[a:<nil> b:[1 x true] c:1.5 d:1.2345675e+06]]',
    );
  });
});

describe('validation (422 Invalid) of what the harness could send wrong', () => {
  it('object names by the kind’s rule, with generateName as a prefix, and a missing one', () => {
    expect(problems('Namespace', { metadata: { name: 'Bad_NS' } })).toBe(
      `Namespace "Bad_NS" is invalid: metadata.name: Invalid value: "Bad_NS": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
    );
    expect(problems('Pod', pod({ containers: [ctr()] }, { generateName: 'client-' }))).toBe('');
    expect(problems('Pod', pod({ containers: [ctr()] }, { generateName: 'Client-' }))).toMatch(
      /^Pod "" is invalid: metadata.generateName: Invalid value: "Client-": a lowercase RFC 1123 subdomain/,
    );
    expect(problems('ConfigMap', { metadata: {} })).toBe(
      'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required',
    );
    expect(problems('ConfigMap', { metadata: { name: 'x'.repeat(254) } })).toContain(
      'metadata.name: Invalid value: "xxx',
    );
  });

  it('label keys and values, annotation keys and size', () => {
    const labels = { 'ok/fine': 'v', 'bad key': 'x', run: 'a:b', 'example.com/': 'v' };
    expect(problems('ConfigMap', { metadata: { name: 'c', labels } })).toBe(
      'ConfigMap "c" is invalid: [' +
        [
          `metadata.labels: Invalid value: "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
          `metadata.labels: Invalid value: "a:b": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
          'metadata.labels: Invalid value: "example.com/": name part must be non-empty',
          `metadata.labels: Invalid value: "example.com/": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
        ].join(', ') +
        ']',
    );
    expect(problems('ConfigMap', { metadata: { name: 'c', labels: { k: 'v'.repeat(64) } } })).toContain(
      'must be no more than 63 characters',
    );
    expect(
      problems('ConfigMap', {
        metadata: { name: 'c', annotations: { 'Example.com/OK': 'x', 'Bad Key': 'y' } },
      }),
    ).toMatch(
      /^ConfigMap "c" is invalid: metadata.annotations: Invalid value: "Bad Key": name part must consist of/,
    );
    expect(problems('ConfigMap', { metadata: { name: 'c', annotations: { big: 'x'.repeat(262142) } } })).toBe(
      'ConfigMap "c" is invalid: metadata.annotations: Too long: may not be more than 262144 bytes',
    );
  });

  it('a pod needs containers, each with a DNS-1123 name (once) and an image', () => {
    expect(problems('Pod', pod({}))).toBe('Pod "p" is invalid: spec.containers: Required value');
    expect(problems('Pod', { metadata: { name: 'p' } })).toBe(
      'Pod "p" is invalid: spec.containers: Required value',
    );
    expect(problems('Pod', pod({ containers: [{}] }))).toBe(
      'Pod "p" is invalid: [spec.containers[0].name: Required value, spec.containers[0].image: Required value]',
    );
    expect(problems('Pod', pod({ containers: [ctr({ name: 'My_App' }), ctr(), ctr()] }))).toMatch(
      /^Pod "p" is invalid: \[spec.containers\[0\].name: Invalid value: "My_App": a lowercase RFC 1123 label .*, spec.containers\[2\].name: Duplicate value: "c"\]$/,
    );
    expect(problems('Pod', pod({ containers: [ctr()], initContainers: [ctr()] }))).toBe(
      'Pod "p" is invalid: spec.initContainers[0].name: Duplicate value: "c"',
    );
  });

  it('container ports: IANA names (unique), containerPort, hostPort, protocol', () => {
    const ports = [
      { name: 'serve-65535-tcp', containerPort: 80 },
      { name: 'http_metrics-long', containerPort: 0 },
      { name: 'serve-65535-tcp', containerPort: 70000, hostPort: -1, protocol: 'tcp' },
      { name: '8080', containerPort: 81, protocol: 'SCTP' },
    ];
    expect(problems('Pod', pod({ containers: [ctr({ ports })] }))).toBe(
      'Pod "p" is invalid: [' +
        [
          'spec.containers[0].ports[1].name: Invalid value: "http_metrics-long": must be no more than 15 characters',
          'spec.containers[0].ports[1].name: Invalid value: "http_metrics-long": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
          'spec.containers[0].ports[1].containerPort: Required value',
          'spec.containers[0].ports[2].name: Duplicate value: "serve-65535-tcp"',
          'spec.containers[0].ports[2].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
          'spec.containers[0].ports[2].hostPort: Invalid value: -1: must be between 1 and 65535, inclusive',
          'spec.containers[0].ports[2].protocol: Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"',
          'spec.containers[0].ports[3].name: Invalid value: "8080": must contain at least one letter (a-z)',
        ].join(', ') +
        ']',
    );
  });

  it('probes: one handler, a valid port; pull, termination-message, restart and DNS policies', () => {
    const c = ctr({
      readinessProbe: { httpGet: { path: '/', port: 0 }, tcpSocket: { port: 80 } },
      livenessProbe: { periodSeconds: 2 },
      startupProbe: { tcpSocket: { port: 'no_such--port' } },
      imagePullPolicy: 'IfPresent',
      terminationMessagePolicy: 'Log',
    });
    expect(problems('Pod', pod({ containers: [c], restartPolicy: 'Sometimes', dnsPolicy: 'Cluster' }))).toBe(
      'Pod "p" is invalid: [' +
        [
          'spec.containers[0].terminationMessagePolicy: Unsupported value: "Log": supported values: "File", "FallbackToLogsOnError"',
          'spec.containers[0].imagePullPolicy: Unsupported value: "IfPresent": supported values: "Always", "IfNotPresent", "Never"',
          'spec.containers[0].livenessProbe: Required value: must specify a handler type',
          'spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type',
          'spec.containers[0].readinessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive',
          'spec.containers[0].startupProbe.tcpSocket.port: Invalid value: "no_such--port": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
          'spec.containers[0].startupProbe.tcpSocket.port: Invalid value: "no_such--port": must not contain consecutive hyphens',
          'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
          'spec.dnsPolicy: Unsupported value: "Cluster": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"',
        ].join(', ') +
        ']',
    );
  });

  it('pod nodeSelector labels, serviceAccountName and nodeName', () => {
    expect(
      problems(
        'Pod',
        pod({
          containers: [ctr()],
          nodeSelector: { 'a b': 'c' },
          serviceAccountName: 'SA',
          nodeName: 'kind_worker',
        }),
      ),
    ).toMatch(
      /^Pod "p" is invalid: \[spec.nodeSelector: Invalid value: "a b": name part .*, spec.serviceAccountName: Invalid value: "SA": a lowercase RFC 1123 subdomain .*, spec.nodeName: Invalid value: "kind_worker": a lowercase RFC 1123 subdomain .*\]$/,
    );
  });

  it('a Deployment: replicas, a selector that is valid, not empty and matches the template’s labels', () => {
    const d = pauseDeployment({ name: 'load', namespace: 'n', runId: 'r', replicas: 1 });
    const labels = d.spec?.template.metadata?.labels ?? {};
    const withSelector = (selector: unknown, extra: object = {}) =>
      ({ ...d, spec: { ...d.spec, ...extra, selector } }) as object;
    expect(problems('Deployment', d)).toBe('');
    expect(problems('Deployment', withSelector({ matchLabels: { app: 'other' } }))).toBe(
      `Deployment.apps "load" is invalid: spec.template.metadata.labels: Invalid value: ${JSON.stringify(
        Object.fromEntries(Object.entries(labels).sort()),
      )}: \`selector\` does not match template \`labels\``,
    );
    expect(problems('Deployment', withSelector(undefined, { replicas: -1 }))).toMatch(
      /^Deployment.apps "load" is invalid: \[spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.selector: Required value, spec.template.metadata.labels: Invalid value: \{.*\}: `selector` does not match template `labels`\]$/,
    );
    expect(problems('Deployment', withSelector({}))).toBe(
      'Deployment.apps "load" is invalid: spec.selector: Invalid value: {}: empty selector is invalid for deployment',
    );
    expect(problems('Deployment', withSelector({ matchExpressions: [{ key: 'app', operator: 'Is' }] }))).toBe(
      'Deployment.apps "load" is invalid: [spec.selector.matchExpressions[0].operator: Invalid value: "Is": not a valid selector operator, spec.selector: Invalid value: {"matchExpressions":[{"key":"app","operator":"Is"}]}: invalid label selector]',
    );
    const inSel = { matchExpressions: [{ key: 'app', operator: 'In', values: ['load'] }] };
    expect(problems('Deployment', withSelector(inSel))).toBe('');
    expect(problems('ReplicaSet', withSelector(inSel))).toBe('');
  });

  it('a workload’s template: labels, the pod spec, restartPolicy Always', () => {
    const d = pauseDeployment({ name: 'load', namespace: 'n', runId: 'r', replicas: 1 });
    const spec = d.spec!;
    const bad = {
      ...d,
      spec: {
        ...spec,
        template: {
          metadata: { labels: { ...spec.template.metadata?.labels, 'x y': 'z' } },
          spec: { ...spec.template.spec, restartPolicy: 'Never', containers: [] },
        },
      },
    };
    expect(problems('Deployment', bad)).toMatch(
      /^Deployment.apps "load" is invalid: \[spec.template.labels: Invalid value: "x y": .*, spec.template.spec.containers: Required value, spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"\]$/,
    );
  });

  it('a DaemonSet: no selector is a mismatch, an empty one is refused', () => {
    const tpl = { metadata: { labels: { app: 'a' } }, spec: { containers: [ctr()] } };
    expect(problems('DaemonSet', { metadata: { name: 'd' }, spec: { template: tpl } })).toBe(
      'DaemonSet.apps "d" is invalid: spec.template.metadata.labels: Invalid value: {"app":"a"}: `selector` does not match template `labels`',
    );
    expect(problems('DaemonSet', { metadata: { name: 'd' }, spec: { selector: {}, template: tpl } })).toBe(
      'DaemonSet.apps "d" is invalid: spec.selector: Invalid value: {}: empty selector is invalid for daemonset',
    );
  });

  it('NetworkPolicy ports, peers, ipBlocks and policyTypes', () => {
    const np = policy('n', 'bad', 'r', {
      podSelector: { matchLabels: { 'a/b/c': 'x' } },
      policyTypes: ['Ingress', 'Both' as 'Egress'],
      ingress: [
        {
          ports: [
            { protocol: 'ICMP' as 'TCP', port: 0 },
            { port: 'http', endPort: 90 },
            { port: 100, endPort: 90 },
            { endPort: 5 },
          ],
          from: [
            {},
            {
              ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16', '11.0.0.0/16', '10.0.0.0/8'] },
              podSelector: {},
            },
            { ipBlock: { cidr: '10.0.0.300/8' } },
          ],
        },
      ],
    });
    expect(problems('NetworkPolicy', np)).toBe(
      'NetworkPolicy.networking.k8s.io "bad" is invalid: [' +
        [
          `spec.podSelector.matchLabels: Invalid value: "a/b/c": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
          'spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"',
          'spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
          'spec.ingress[0].ports[1].endPort: Invalid value: 90: may not be specified when `port` is non-numeric',
          'spec.ingress[0].ports[2].endPort: Invalid value: 90: must be greater than or equal to `port`',
          'spec.ingress[0].ports[3].endPort: Invalid value: 5: may not be specified when `port` is not specified',
          'spec.ingress[0].from[0]: Required value: must specify a peer',
          'spec.ingress[0].from[1].ipBlock.except[1]: Invalid value: "11.0.0.0/16": must be a strict subset of `cidr`',
          'spec.ingress[0].from[1].ipBlock.except[2]: Invalid value: "10.0.0.0/8": must be a strict subset of `cidr`',
          'spec.ingress[0].from[1]: Forbidden: may not specify both ipBlock and another peer',
          'spec.ingress[0].from[2].ipBlock.cidr: Invalid value: "10.0.0.300/8": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
          'spec.policyTypes[1]: Unsupported value: "Both": supported values: "Ingress", "Egress"',
        ].join(', ') +
        ']',
    );
    const three = policy('n', 'three', 'r', {
      podSelector: {},
      policyTypes: ['Ingress', 'Egress', 'Ingress'],
    });
    expect(problems('NetworkPolicy', three)).toBe(
      'NetworkPolicy.networking.k8s.io "three" is invalid: spec.policyTypes: Invalid value: ["Ingress","Egress","Ingress"]: may not specify more than two policyTypes',
    );
    const v6 = policy('n', 'v6', 'r', {
      podSelector: {},
      egress: [{ to: [{ ipBlock: { cidr: 'fd00::/8', except: ['fd00:1::/32', 'fe80::/64'] } }] }],
    });
    expect(problems('NetworkPolicy', v6)).toBe(
      'NetworkPolicy.networking.k8s.io "v6" is invalid: spec.egress[0].to[0].ipBlock.except[1]: Invalid value: "fe80::/64": must be a strict subset of `cidr`',
    );
  });

  it('label selectors: operators and their values', () => {
    const np = policy('n', 'sel', 'r', {
      podSelector: {
        matchExpressions: [
          { key: 'a', operator: 'In', values: [] },
          { key: 'b', operator: 'Exists', values: ['x'] },
          { key: 'c', operator: 'NotIn', values: ['bad value'] },
        ],
      },
    });
    expect(problems('NetworkPolicy', np)).toMatch(
      /^NetworkPolicy.networking.k8s.io "sel" is invalid: \[spec.podSelector.matchExpressions\[0\].values: Required value: must be specified when `operator` is 'In' or 'NotIn', spec.podSelector.matchExpressions\[1\].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist', spec.podSelector.matchExpressions\[2\].values\[0\]: Invalid value: "bad value": a valid label must be .*\]$/,
    );
  });

  it('a Lease’s duration and transitions', () => {
    expect(
      problems('Lease', { metadata: { name: 'l' }, spec: { leaseDurationSeconds: 0, leaseTransitions: -1 } }),
    ).toBe(
      'Lease.coordination.k8s.io "l" is invalid: [spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0, spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0]',
    );
  });

  it('an update checks labels but not the (immutable) name', () => {
    expect(problems('Pod', pod({ containers: [ctr()] }, { name: 'Bad' }), 'update')).toBe('');
    expect(
      problems('Pod', pod({ containers: [ctr()] }, { name: 'p', labels: { 'a b': 'c' } }), 'update'),
    ).toMatch(/^Pod "p" is invalid: metadata.labels: Invalid value: "a b"/);
  });
});

describe('what the harness builds is valid and has no unknown field', () => {
  const o = {
    name: 'srv',
    namespace: 'ns',
    runId: 'run-1',
    serviceAccountName: 'probe-x',
    nodeName: 'kind-worker',
  };
  const lease = markerLease(
    'run-1',
    'host/1',
    new Date('2025-01-02T03:04:05.678Z'),
    [{ name: 'istiod', namespace: 'istio-system' }],
    true,
    '12',
  );
  const typed: [string, object][] = [
    ['Pod', probeServerPod(o)],
    ['Pod', dualPortServerPod(o)],
    ['Pod', clientPod({ ...o, labels: { pod: 'a' } })],
    ['Pod', capturePod('capture-x', 'ns', 'kind-worker', 'run-1')],
    [
      'Deployment',
      pauseDeployment({ name: 'load', namespace: 'ns', runId: 'run-1', replicas: 3, serve: true }),
    ],
    ['Deployment', pauseDeployment({ name: 'load', namespace: 'ns', runId: 'run-1', replicas: 0 })],
    ['Lease', lease],
  ];
  const netpols = [
    ...documentedPolicies({
      calls: new Map([
        ['x-1', ['y-1']],
        ['y-1', []],
      ]),
      istioNamespace: 'istio-system',
      appPorts: [80, 81],
      runId: 'run-1',
    }),
    denyAll('x-1', 'run-1', ['Ingress', 'Egress']),
    policy('x-1', 'kubelet', 'run-1', {
      podSelector: {},
      ingress: [{ from: [{ ipBlock: { cidr: '169.254.7.127/32' } }], ports: tcp(8080) }],
    }),
  ];

  it.each(typed)('%s from the builders, as client-node sends it', (kind, built) => {
    const t = rt(kind);
    // client-node's serializer writes the JSON names; a field its model does not know is dropped.
    const wire = toWire(built, t.group ? `${t.group}/${t.version}` : t.version, kind);
    expect(leaves(toTyped(wire)).sort(), 'a field the model does not know').toEqual(leaves(built).sort());
    const raw = JSON.stringify(wire);
    expect(strictDecode(t, JSON.parse(raw) as KubeObject, { raw }).errors).toEqual([]);
    expect(validateBuiltin(t, JSON.parse(raw) as KubeObject, 'create')).toEqual([]);
  });

  it('the NetworkPolicies, as their wire JSON', () => {
    for (const np of netpols) {
      const raw = JSON.stringify(np);
      expect(strictDecode(rt('NetworkPolicy'), np as never, { raw }).errors, np.metadata.name).toEqual([]);
      expect(validateBuiltin(rt('NetworkPolicy'), np as never, 'create'), np.metadata.name).toEqual([]);
    }
  });
});

/** A model's JSON field names as generated, NOT_IN_V1_34 included. */
function modelFieldsRaw(model: string): string[] {
  const models = clientNode as unknown as Record<
    string,
    { attributeTypeMap?: { baseName: string }[] } | undefined
  >;
  return (models[model]?.attributeTypeMap ?? []).map((a) => a.baseName);
}

/** The paths of an object's values (a Date is one value). */
function leaves(v: unknown, path = ''): string[] {
  if (v === undefined) return [];
  if (v === null || typeof v !== 'object' || v instanceof Date) return [path];
  return Object.entries(v).flatMap(([k, x]) => leaves(x, `${path}/${k}`));
}
