import type { V1Container, V1Deployment, V1Pod } from '@kubernetes/client-node';
import { PINS } from './pins.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, RUN_ID_LABEL } from './plan.ts';

/** Probe workloads: agnhost (pinned by digest), the image Kubernetes' own network e2e tests use. */
export const PROBE_IMAGE = PINS.images.agnhost;
export const SERVER_HTTP_PORT = 8080;
export const CLIENT_CONTAINER = 'client';

export interface PodOptions {
  name: string;
  namespace: string;
  runId: string;
  labels?: Record<string, string>;
  serviceAccountName?: string;
  nodeName?: string;
}

function baseLabels(o: PodOptions, role: string): Record<string, string> {
  return { app: role, [RUN_ID_LABEL]: o.runId, [MANAGED_BY_LABEL]: MANAGED_BY, ...(o.labels ?? {}) };
}

/** The agnhost container every probe pod runs (image pinned by digest, tiny requests). */
function agnhost(name: string, args: string[], port?: number, cpu = '2m', memory = '12Mi'): V1Container {
  return {
    name,
    image: PROBE_IMAGE,
    imagePullPolicy: 'IfNotPresent',
    args,
    ...(port === undefined
      ? {}
      : {
          ports: [{ name: `serve-${port}-tcp`, containerPort: port, protocol: 'TCP' }],
          readinessProbe: { httpGet: { path: '/', port }, periodSeconds: 2, failureThreshold: 3 },
        }),
    resources: { requests: { cpu, memory } },
  };
}

function probePod(o: PodOptions, role: string, containers: V1Container[]): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: o.name, namespace: o.namespace, labels: baseLabels(o, role) },
    spec: {
      ...(o.serviceAccountName ? { serviceAccountName: o.serviceAccountName } : {}),
      ...(o.nodeName ? { nodeName: o.nodeName } : {}),
      terminationGracePeriodSeconds: 1,
      containers,
    },
  };
}

/** A server answering HTTP (agnhost netexec: /hostname, /clientip, /echo) on 8080. */
export function probeServerPod(o: PodOptions): V1Pod {
  return probePod(o, 'probe-server', [
    agnhost(
      'server',
      ['netexec', `--http-port=${SERVER_HTTP_PORT}`, '--udp-port=-1'],
      SERVER_HTTP_PORT,
      '5m',
      '16Mi',
    ),
  ]);
}

/** The NetworkPolicy e2e server: agnhost netexec on TCP 80 and 81 (one container each), answering /hostname and /clientip. */
export const SERVER_PORTS = [80, 81] as const;

export function dualPortServerPod(o: PodOptions): V1Pod {
  return probePod(
    o,
    'probe-server',
    SERVER_PORTS.map((port) =>
      agnhost(`serve-${port}`, ['netexec', `--http-port=${port}`, '--udp-port=-1'], port),
    ),
  );
}

/** A client: agnhost's pause keeps it alive; curl and sh come with the image. */
export function clientPod(o: PodOptions): V1Pod {
  return probePod(o, 'probe-client', [agnhost(CLIENT_CONTAINER, ['pause'], undefined, '2m', '8Mi')]);
}

/** A Deployment of agnhost pause pods (the BUDGET-03 load and REMOVAL-01's rollout restart). */
export function pauseDeployment(o: {
  name: string;
  namespace: string;
  runId: string;
  replicas: number;
  serve?: boolean;
}): V1Deployment {
  const labels = { app: o.name, [RUN_ID_LABEL]: o.runId, [MANAGED_BY_LABEL]: MANAGED_BY };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: o.name, namespace: o.namespace, labels },
    spec: {
      replicas: o.replicas,
      selector: { matchLabels: { app: o.name } },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'app',
              image: PROBE_IMAGE,
              imagePullPolicy: 'IfNotPresent',
              args: o.serve ? ['netexec', '--http-port=80', '--udp-port=-1'] : ['pause'],
              ...(o.serve
                ? {
                    ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }],
                    readinessProbe: { httpGet: { path: '/', port: 80 }, periodSeconds: 2 },
                  }
                : {}),
              resources: { requests: { cpu: '1m', memory: '6Mi' } },
            },
          ],
        },
      },
    },
  };
}
