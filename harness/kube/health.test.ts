import type { V1DaemonSet, V1Node, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { eligibleNodes, judgePodsReady, perNodeCoverage, podImpossible, tolerates } from './health.ts';

const cp: V1Node = {
  metadata: { name: 'cp', labels: { 'kubernetes.io/os': 'linux' } },
  spec: { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] },
};
const w1: V1Node = { metadata: { name: 'w1', labels: { 'kubernetes.io/os': 'linux' } }, spec: {} };
const ds = (
  tolerations: V1DaemonSet['spec'] extends infer S
    ? S extends { template: { spec?: { tolerations?: infer T } } }
      ? T
      : never
    : never,
): V1DaemonSet => ({
  spec: {
    selector: {},
    template: { spec: { containers: [], tolerations, nodeSelector: { 'kubernetes.io/os': 'linux' } } },
  },
});

describe('DaemonSet placement', () => {
  it('a NoSchedule Exists toleration (istio-cni, ztunnel) covers the kind control plane', () => {
    expect(
      eligibleNodes(
        ds([
          { effect: 'NoSchedule', operator: 'Exists' },
          { key: 'CriticalAddonsOnly', operator: 'Exists' },
        ]),
        [cp, w1],
      ),
    ).toEqual(['cp', 'w1']);
    expect(eligibleNodes(ds([]), [cp, w1])).toEqual(['w1']);
    expect(tolerates([{ operator: 'Exists' }], { key: 'x', effect: 'NoExecute' })).toBe(true);
    expect(
      tolerates([{ key: 'k', operator: 'Equal', value: 'v', effect: 'NoSchedule' }], {
        key: 'k',
        value: 'w',
        effect: 'NoSchedule',
      }),
    ).toBe(false);
  });
});

describe('pod judgement', () => {
  const pod = (node: string, ready: boolean, waiting?: { reason: string; restarts: number }): V1Pod => ({
    metadata: { name: `p-${node}`, namespace: 'istio-system' },
    spec: { nodeName: node, containers: [] },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      containerStatuses: waiting
        ? [
            {
              name: 'c',
              image: 'i',
              imageID: '',
              ready: false,
              restartCount: waiting.restarts,
              state: { waiting: { reason: waiting.reason, message: 'back-off' } },
            },
          ]
        : [],
    },
  });
  it('one Ready pod per node', () => {
    expect(perNodeCoverage([pod('w1', true), pod('w1', true)], ['w1', 'w2'])).toEqual({
      missing: ['w2'],
      duplicated: ['w1'],
      notReady: [],
    });
  });
  it('CrashLoopBackOff after 3 restarts makes readiness impossible; ImagePullBackOff is still worth waiting for', () => {
    expect(podImpossible(pod('w1', false, { reason: 'CrashLoopBackOff', restarts: 3 }))).toContain(
      'CrashLoopBackOff after 3 restarts',
    );
    expect(podImpossible(pod('w1', false, { reason: 'ImagePullBackOff', restarts: 0 }))).toBeUndefined();
    expect(judgePodsReady([pod('w1', true)], 1)).toMatchObject({ done: true });
  });
});
