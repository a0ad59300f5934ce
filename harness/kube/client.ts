import {
  AdmissionregistrationV1Api,
  ApiException,
  ApiextensionsV1Api,
  ApiregistrationV1Api,
  AppsV1Api,
  CoreV1Api,
  createConfiguration,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  NetworkingV1Api,
  RbacAuthorizationV1Api,
  ServerConfiguration,
  setHeaderMiddleware,
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

export const USER_AGENT = 'ambient-conformance';

/**
 * Like KubeConfig.makeApiClient, with our own User-Agent: "ambient-conformance (NETPOL-02)" in the
 * API server's audit log points back to the test that made the call.
 */
function apiClient<T>(
  kc: KubeConfig,
  Api: new (config: ReturnType<typeof createConfiguration>) => T,
  userAgent: string,
): T {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('No active cluster in the kubeconfig');
  return new Api(
    createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kc },
      middleware: [setHeaderMiddleware('User-Agent', userAgent)],
    }),
  );
}

export function userAgentFor(testId?: string): string {
  return testId ? `${USER_AGENT} (${testId})` : USER_AGENT;
}

export function makeClients(kubeconfig: string, context?: string, userAgent = userAgentFor()): KubeClients {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  if (context) kc.setCurrentContext(context);
  return {
    kc,
    core: apiClient(kc, CoreV1Api, userAgent),
    apps: apiClient(kc, AppsV1Api, userAgent),
    admission: apiClient(kc, AdmissionregistrationV1Api, userAgent),
    apiext: apiClient(kc, ApiextensionsV1Api, userAgent),
    apireg: apiClient(kc, ApiregistrationV1Api, userAgent),
    networking: apiClient(kc, NetworkingV1Api, userAgent),
    rbac: apiClient(kc, RbacAuthorizationV1Api, userAgent),
    custom: apiClient(kc, CustomObjectsApi, userAgent),
    objects: KubernetesObjectApi.makeApiClient(kc),
    version: apiClient(kc, VersionApi, userAgent),
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

/**
 * Creates an object of this run, retrying transient failures like withRetry. A retried attempt that
 * meets 409 AlreadyExists is our own earlier attempt that committed before its answer was lost:
 * success (resolves undefined). A 409 on the first attempt is someone else's object and is thrown.
 */
export async function createWithRetry<T>(
  operation: string,
  fn: () => Promise<T>,
  retries = 4,
): Promise<T | undefined> {
  let attempt = 0;
  return withRetry(
    operation,
    async () => {
      attempt += 1;
      try {
        return await fn();
      } catch (e) {
        if (attempt > 1 && statusOf(e) === 409) {
          log.debug(`${operation}: AlreadyExists on attempt ${attempt}: an earlier attempt committed`);
          return undefined;
        }
        throw e;
      }
    },
    retries,
  );
}
