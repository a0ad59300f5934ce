import type { NamespaceInfo, PodInfo } from './types.ts';

export const DATAPLANE_MODE = 'istio.io/dataplane-mode';
export const SIDECAR_STATUS = 'sidecar.istio.io/status';
/** istio-cni's default excludeNamespaces. */
export const DEFAULT_EXCLUDED_NAMESPACES = ['kube-system'];

/**
 * Whether istio-cni enrolls a pod in ambient, per the cni chart's default enablementSelectors
 * (cni/pkg/util/enablement_selector.go): the pod label istio.io/dataplane-mode=ambient, or the
 * namespace label istio.io/dataplane-mode=ambient unless the pod is labelled none. Pods with an
 * injected sidecar, host-network pods and excluded namespaces are never enrolled.
 */
export function enrollment(
  pod: PodInfo,
  ns: NamespaceInfo | undefined,
  excluded = DEFAULT_EXCLUDED_NAMESPACES,
): { enrolled: boolean; why: string } {
  if (excluded.includes(pod.namespace)) {
    const asked =
      pod.labels[DATAPLANE_MODE] === 'ambient' ||
      (ns?.labels[DATAPLANE_MODE] === 'ambient' && pod.labels[DATAPLANE_MODE] !== 'none');
    return {
      enrolled: false,
      why: `namespace ${pod.namespace} is excluded by istio-cni${
        asked
          ? `, though labelled for ambient: true from Istio 1.30; the 1.28 and 1.29 node agent may still enrol it when the pod is updated (it checks excludeNamespaces only in the CNI plugin, cni/pkg/nodeagent/informers.go)`
          : ''
      }`,
    };
  }
  if (pod.hostNetwork) return { enrolled: false, why: 'host network pod' };
  if (pod.annotations?.[SIDECAR_STATUS] !== undefined)
    return { enrolled: false, why: 'has an injected sidecar' };
  const podMode = pod.labels[DATAPLANE_MODE];
  if (podMode === 'ambient') return { enrolled: true, why: `pod label ${DATAPLANE_MODE}=ambient` };
  if (podMode === 'none') return { enrolled: false, why: `pod label ${DATAPLANE_MODE}=none` };
  if (ns?.labels[DATAPLANE_MODE] === 'ambient')
    return { enrolled: true, why: `namespace label ${DATAPLANE_MODE}=ambient` };
  return {
    enrolled: false,
    why: `neither the pod nor namespace ${pod.namespace} is labelled ${DATAPLANE_MODE}=ambient`,
  };
}
