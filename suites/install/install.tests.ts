import { createWithRetry } from '../../harness/kube/client.ts';
import { defineSuite } from '../../harness/conformance/define.ts';
import { withRetry } from '../../harness/kube/client.ts';
import { eligibleNodes, perNodeCoverage } from '../../harness/kube/health.ts';
import { ISTIO_OBJECTS, listPods } from '../../harness/kube/ops.ts';
import {
  decodeHelmReleaseSecret,
  judgeAmbientEnabled,
  judgeEnrolledPod,
  judgeReleases,
  shouldBeCaptured,
  type HelmReleaseRecord,
} from '../../harness/istio/install-checks.ts';
import { pollUntil } from '../../harness/wait.ts';
import { probeServerPod } from '../../harness/workloads.ts';

/** The install suite: the documented charts are installed at the pinned version and the mesh is healthy. */
export const installTests = defineSuite('install', [
  {
    id: 'INSTALL-01',
    claim:
      'the four Istio releases are deployed from the official charts at the pinned version, in sync-wave order',
    source: 'runbook "ArgoCD Applications" (waves -45..-42); istio.io ambient Helm install',
    needs: ['cluster'],
    async body({ expect, facts, profile, kube, scope, skip }) {
      const secrets = await withRetry('list Helm release secrets', () =>
        kube.core.listNamespacedSecret({ namespace: facts.istioNamespace, labelSelector: 'owner=helm' }),
      );
      const records = secrets.items
        .map(decodeHelmReleaseSecret)
        .filter((r): r is HelmReleaseRecord => r !== undefined);
      scope.attach('helm-releases.json', JSON.stringify(records, null, 2));
      if (records.length === 0)
        skip(
          `no Helm release records in ${facts.istioNamespace} (Argo CD renders charts with helm template): versions and order cannot be read`,
        );
      const problems = judgeReleases(profile.releases, records, profile.doc.istio.version);
      expect(problems, 'release problems').toEqual([]);
    },
  },
  {
    id: 'INSTALL-02',
    claim: 'istiod is Ready, and istio-cni-node and ztunnel run one Ready pod on every node',
    needs: ['cluster'],
    async body({ expect, facts, kube, timeouts, scope }) {
      const ns = facts.istioNamespace;
      // "Every node" is every node the DaemonSet can run on (its tolerations and nodeSelector).
      const nodeList = (await kube.core.listNode()).items;
      const cniNodes = eligibleNodes(
        await kube.apps.readNamespacedDaemonSet({ namespace: ns, name: ISTIO_OBJECTS.cni.name }),
        nodeList,
      );
      const ztNodes = eligibleNodes(
        await kube.apps.readNamespacedDaemonSet({ namespace: ns, name: ISTIO_OBJECTS.ztunnel.name }),
        nodeList,
      );
      const nodes = nodeList.map((n) => n.metadata?.name ?? '');
      expect(cniNodes, 'istio-cni-node must be able to run on every node').toEqual(nodes);
      await pollUntil({
        signal: kube.signal,
        what: `istiod Ready and one Ready istio-cni-node and ztunnel pod on each of ${nodes.length} nodes (ztunnel: ${ztNodes.length})`,
        timeoutMs: timeouts.podReady,
        intervalMs: timeouts.pollInterval,
        read: async () => ({
          istiod: await listPods(kube, ns, ISTIO_OBJECTS.istiod.selector),
          cni: await listPods(kube, ns, ISTIO_OBJECTS.cni.selector),
          ztunnel: await listPods(kube, ns, ISTIO_OBJECTS.ztunnel.selector),
        }),
        judge: (p) => {
          const cni = perNodeCoverage(p.cni, cniNodes);
          const zt = perNodeCoverage(p.ztunnel, ztNodes);
          const istiodReady = p.istiod.some((x) =>
            x.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
          );
          const bad = [
            ...(istiodReady ? [] : ['istiod: no Ready pod']),
            ...cni.missing.map((n) => `istio-cni-node missing on ${n}`),
            ...cni.duplicated.map((n) => `istio-cni-node: several pods on ${n}`),
            ...cni.notReady,
            ...zt.missing.map((n) => `ztunnel missing on ${n}`),
            ...zt.duplicated.map((n) => `ztunnel: several pods on ${n}`),
            ...zt.notReady,
          ];
          return { done: bad.length === 0, seen: bad.join('; ') || 'all Ready' };
        },
      });
      const cniPods = await listPods(kube, ns, ISTIO_OBJECTS.cni.selector);
      const ztPods = await listPods(kube, ns, ISTIO_OBJECTS.ztunnel.selector);
      expect(perNodeCoverage(cniPods, cniNodes)).toEqual({ missing: [], duplicated: [], notReady: [] });
      expect(perNodeCoverage(ztPods, ztNodes)).toEqual({ missing: [], duplicated: [], notReady: [] });
      if (ztNodes.length < nodes.length)
        scope.log(
          `ztunnel does not run on ${nodes.filter((n) => !ztNodes.includes(n)).join(', ')} (taints): pods there cannot be meshed`,
        );
    },
  },
  {
    id: 'INSTALL-03',
    claim:
      'ambient mode is on: istiod runs with PILOT_ENABLE_AMBIENT=true and the CNI agent with AMBIENT_ENABLED=true',
    source: 'istio manifests/helm-profiles/ambient.yaml; cni chart configmap-cni.yaml',
    needs: ['cluster'],
    async body({ expect, facts, kube }) {
      const istiod = await kube.apps.readNamespacedDeployment({
        namespace: facts.istioNamespace,
        name: 'istiod',
      });
      const cm = await kube.core.readNamespacedConfigMap({
        namespace: facts.istioNamespace,
        name: 'istio-cni-config',
      });
      expect(judgeAmbientEnabled(istiod, cm)).toEqual([]);
    },
  },
  {
    id: 'INSTALL-04',
    claim:
      'pods of enrolled namespaces carry ambient.istio.io/redirection=enabled and get no sidecar or init container',
    source: 'runbook "Adding Namespaces to the Mesh"; istio cni/pkg/util/podutil.go',
    needs: ['cluster'],
    timeout: 'podReady',
    async body({ expect, facts, kube, timeouts, scope }) {
      const problems: string[] = [];
      // The runbook's meshed namespaces carry the enrollment label.
      for (const ns of facts.meshedNamespaces) {
        const n = await kube.core.readNamespace({ name: ns }).catch(() => undefined);
        const label = n?.metadata?.labels?.['istio.io/dataplane-mode'];
        if (!n) problems.push(`namespace ${ns} does not exist`);
        else if (label !== 'ambient')
          problems.push(
            `namespace ${ns} has istio.io/dataplane-mode=${label ?? '(unset)'}, expected ambient`,
          );
      }
      // A fresh probe pod in an enrolled namespace is captured without any injection.
      const ns = await scope.namespace({ ambient: true });
      const pod = probeServerPod({ name: 'probe-server', namespace: ns, runId: facts.runId });
      await createWithRetry(`create pod ${ns}/probe-server`, () =>
        kube.core.createNamespacedPod({ namespace: ns, body: pod }),
      );
      const captured = await pollUntil({
        signal: kube.signal,
        what: `pod ${ns}/probe-server to be Ready and annotated ambient.istio.io/redirection=enabled`,
        timeoutMs: timeouts.podReady,
        intervalMs: timeouts.pollInterval,
        read: () => kube.core.readNamespacedPod({ namespace: ns, name: 'probe-server' }),
        judge: (p) => {
          const a = p.metadata?.annotations?.['ambient.istio.io/redirection'];
          const ready = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
          return {
            done: ready && a === 'enabled',
            seen: `ready=${ready} redirection=${a ?? '(absent)'} phase=${p.status?.phase ?? '?'}`,
          };
        },
      });
      problems.push(...judgeEnrolledPod(captured, ['server']));
      // Pods already running in the meshed namespaces (existing clusters) are captured too.
      for (const mns of facts.meshedNamespaces) {
        const pods = await listPods(kube, mns).catch(() => []);
        for (const p of pods.filter(shouldBeCaptured)) {
          const declared = (p.spec?.containers ?? []).map((c) => c.name).filter((c) => c !== 'istio-proxy');
          const declaredInit = (p.spec?.initContainers ?? [])
            .map((c) => c.name)
            .filter((c) => c !== 'istio-init' && c !== 'istio-validation');
          problems.push(...judgeEnrolledPod(p, declared, declaredInit));
        }
      }
      scope.attach('enrollment-problems.txt', problems.join('\n') || 'none');
      expect(problems).toEqual([]);
    },
  },
]);
