import {
  AdmissionregistrationV1Api,
  ApiException,
  ApiextensionsV1Api,
  ApiregistrationV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  NetworkingV1Api,
  RbacAuthorizationV1Api,
  VersionApi,
} from '@kubernetes/client-node';
import pRetry from 'p-retry';
import { log } from '../progress.ts';

export interface KubeClients {
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  admission: AdmissionregistrationV1Api;
  apiext: ApiextensionsV1Api;
  apireg: ApiregistrationV1Api;
  networking: NetworkingV1Api;
  rbac: RbacAuthorizationV1Api;
  custom: CustomObjectsApi;
  objects: KubernetesObjectApi;
  version: VersionApi;
}

export function makeClients(kubeconfig: string, context?: string): KubeClients {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  if (context) kc.setCurrentContext(context);
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    admission: kc.makeApiClient(AdmissionregistrationV1Api),
    apiext: kc.makeApiClient(ApiextensionsV1Api),
    apireg: kc.makeApiClient(ApiregistrationV1Api),
    networking: kc.makeApiClient(NetworkingV1Api),
    rbac: kc.makeApiClient(RbacAuthorizationV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    objects: KubernetesObjectApi.makeApiClient(kc),
    version: kc.makeApiClient(VersionApi),
  };
}

export function statusOf(e: unknown): number | undefined {
  if (e instanceof ApiException) return e.code;
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export function isNotFound(e: unknown): boolean {
  return statusOf(e) === 404;
}

/** Transient: API 5xx/429 and connection resets. 4xx (except 429) are answers, not flakes. */
export function isTransient(e: unknown): boolean {
  const s = statusOf(e);
  if (s !== undefined) return s >= 500 || s === 429;
  const msg =
    e instanceof Error ? `${e.message} ${(e as { cause?: { code?: string } }).cause?.code ?? ''}` : String(e);
  return /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|socket hang up|UND_ERR_SOCKET|other side closed/.test(msg);
}

/** Retries an API operation on transient failures only, logging each attempt. */
export async function withRetry<T>(operation: string, fn: () => Promise<T>, retries = 4): Promise<T> {
  return pRetry(fn, {
    retries,
    minTimeout: 500,
    maxTimeout: 5000,
    shouldRetry: ({ error }) => isTransient(error),
    onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
      if (isTransient(error) && retriesLeft > 0)
        log.warn(`${operation}: attempt ${attemptNumber}/${retries + 1} failed: ${error.message}; retrying`);
    },
  });
}
