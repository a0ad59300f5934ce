import {
  AdmissionregistrationV1Api,
  ApiException,
  ApiextensionsV1Api,
  ApiregistrationV1Api,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  createConfiguration,
  CustomObjectsApi,
  KubeConfig,
  NetworkingV1Api,
  RbacAuthorizationV1Api,
  type RequestContext,
  ServerConfiguration,
  setHeaderMiddleware,
  VersionApi,
} from '@kubernetes/client-node';
import pRetry from 'p-retry';
import { InterruptedError } from '../errors.ts';
import { log } from '../progress.ts';

export interface KubeClients {
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  coordination: CoordinationV1Api;
  admission: AdmissionregistrationV1Api;
  apiext: ApiextensionsV1Api;
  apireg: ApiregistrationV1Api;
  networking: NetworkingV1Api;
  rbac: RbacAuthorizationV1Api;
  custom: CustomObjectsApi;
  version: VersionApi;
  /**
   * Cancels every request made through these clients, and the execs, port-forwards and waits
   * given this object (the run's Ctrl-C, or a conformance test's own signal).
   */
  signal?: AbortSignal;
}

export interface ClientOptions {
  /** User-Agent, e.g. "ambient-conformance (NETPOL-02)". */
  userAgent?: string;
  /** Cancels every request in flight and refuses new ones. */
  signal?: AbortSignal;
  /**
   * Bound on one request, in ms (the timeout table's apiRequest): a request the API server
   * accepts and never answers (a hung log read) fails with a TimeoutError instead of stalling.
   */
  requestTimeoutMs?: number;
}

/** Default bound on one API request when none is given (the timeout table's apiRequest default). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

/**
 * Sets each request's AbortSignal (client-node 2.x: RequestContext.setSignal, passed to undici's
 * fetch by gen/http/isomorphic-fetch.js): the run's or test's signal, and a per-request deadline.
 */
function signalMiddleware(signal: AbortSignal | undefined, requestTimeoutMs: number) {
  return {
    pre: (request: RequestContext) => {
      const deadline = AbortSignal.timeout(requestTimeoutMs);
      request.setSignal(signal ? AbortSignal.any([signal, deadline]) : deadline);
      return Promise.resolve(request);
    },
    post: <R>(response: R) => Promise.resolve(response),
  };
}

export const USER_AGENT = 'ambient-conformance';

/**
 * Like KubeConfig.makeApiClient, with our own User-Agent: "ambient-conformance (NETPOL-02)" in the
 * API server's audit log points back to the test that made the call.
 */
function apiConfiguration(kc: KubeConfig, o: Required<Omit<ClientOptions, 'signal'>> & ClientOptions) {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('No active cluster in the kubeconfig');
  return createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    middleware: [setHeaderMiddleware('User-Agent', o.userAgent)],
    promiseMiddleware: [signalMiddleware(o.signal, o.requestTimeoutMs)],
  });
}

export function userAgentFor(testId?: string): string {
  return testId ? `${USER_AGENT} (${testId})` : USER_AGENT;
}

/**
 * Typed API clients for one kubeconfig context. Every request carries the User-Agent, honours
 * `signal` and is bounded by `requestTimeoutMs` (default DEFAULT_REQUEST_TIMEOUT_MS).
 * Throws what KubeConfig.loadFromFile throws for an unreadable kubeconfig.
 */
export function makeClients(
  kubeconfig: string,
  context?: string,
  options: ClientOptions | string = {},
): KubeClients {
  const o = typeof options === 'string' ? { userAgent: options } : options;
  const opts = {
    ...o,
    userAgent: o.userAgent ?? userAgentFor(),
    requestTimeoutMs: o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
  };
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  if (context) kc.setCurrentContext(context);
  const config = apiConfiguration(kc, opts);
  return {
    kc,
    core: new CoreV1Api(config),
    apps: new AppsV1Api(config),
    coordination: new CoordinationV1Api(config),
    admission: new AdmissionregistrationV1Api(config),
    apiext: new ApiextensionsV1Api(config),
    apireg: new ApiregistrationV1Api(config),
    networking: new NetworkingV1Api(config),
    rbac: new RbacAuthorizationV1Api(config),
    custom: new CustomObjectsApi(config),
    version: new VersionApi(config),
    ...(opts.signal ? { signal: opts.signal } : {}),
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
  if (e instanceof InterruptedError) return false;
  // A request that outlived its bound (AbortSignal.timeout's DOMException): the call is retried.
  if ((e as { name?: unknown } | null)?.name === 'TimeoutError') return true;
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
