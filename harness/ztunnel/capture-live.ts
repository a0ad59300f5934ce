import type { V1Pod } from '@kubernetes/client-node';
import type { ConformanceContext } from '../conformance/define.ts';
import { execInPod } from '../kube/exec.ts';
import { PINS } from '../pins.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, RUN_ID_LABEL } from '../plan.ts';
import { pollUntil } from '../wait.ts';
import { parseTcpdump, type Packet } from './capture.ts';

/**
 * A host-network, privileged tcpdump pod (netshoot, pinned by digest) on one node: it sees the
 * node's traffic as it crosses the host, where HBONE is already encrypted.
 */
export function capturePod(name: string, namespace: string, node: string, runId: string): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      labels: {
        app: 'wire-capture',
        [RUN_ID_LABEL]: runId,
        [MANAGED_BY_LABEL]: MANAGED_BY,
        'istio.io/dataplane-mode': 'none',
      },
    },
    spec: {
      nodeName: node,
      hostNetwork: true,
      terminationGracePeriodSeconds: 1,
      tolerations: [{ operator: 'Exists' }],
      containers: [
        {
          name: 'tcpdump',
          image: PINS.images.netshoot,
          imagePullPolicy: 'IfNotPresent',
          command: ['sleep', 'infinity'],
          securityContext: { privileged: true },
          resources: { requests: { cpu: '5m', memory: '16Mi' } },
        },
      ],
    },
  };
}

export interface RunningCapture {
  stop(): Promise<Packet[]>;
}

/** Starts tcpdump for traffic between two IPs and returns once it is listening. */
export async function startCapture(
  ctx: ConformanceContext,
  namespace: string,
  pod: string,
  a: string,
  b: string,
): Promise<RunningCapture> {
  if (![a, b].every((ip) => /^[0-9a-fA-F.:]+$/.test(ip))) throw new Error(`bad capture addresses ${a} ${b}`);
  const run = (script: string) =>
    execInPod(ctx.kube, namespace, pod, 'tcpdump', ['sh', '-c', script], ctx.timeouts.exec);
  await run(
    `rm -f /tmp/cap.*; nohup tcpdump -i any -nn -A -s0 -l 'host ${a} and host ${b}' >/tmp/cap.txt 2>/tmp/cap.err </dev/null & echo $! >/tmp/cap.pid`,
  );
  await pollUntil({
    signal: ctx.kube.signal,
    what: `tcpdump in ${namespace}/${pod} to be listening`,
    timeoutMs: ctx.timeouts.exec,
    intervalMs: ctx.timeouts.pollInterval,
    read: async () => (await run('cat /tmp/cap.err 2>/dev/null')).stdout,
    judge: (err) => ({
      done: err.includes('listening on'),
      impossible: /permission denied|can't|error/i.test(err) ? err.trim() : undefined,
      seen: err.trim() || '(no output yet)',
    }),
  });
  return {
    async stop() {
      await run('kill -INT $(cat /tmp/cap.pid) 2>/dev/null || true');
      await pollUntil({
        signal: ctx.kube.signal,
        what: 'tcpdump to exit and flush its output',
        timeoutMs: ctx.timeouts.exec,
        intervalMs: ctx.timeouts.pollInterval,
        read: async () => (await run('cat /tmp/cap.err')).stdout,
        judge: (err) => ({ done: /packets captured/.test(err), seen: err.trim().split('\n').at(-1) ?? '' }),
      });
      const out = await run('cat /tmp/cap.txt');
      ctx.scope.attach(`capture-${a}-${b}.txt`, out.stdout);
      return parseTcpdump(out.stdout);
    },
  };
}
