import { clip, UserInputError } from './errors.ts';
import { closest } from './suggest.ts';

/**
 * The one timeout table. Each entry bounds one kind of operation; tests and adapters never use a
 * literal duration. Values are milliseconds. A profile's `timeouts` section and the environment
 * (AMBIENT_TIMEOUT_<UPPER_SNAKE_KEY>=<duration>, e.g. AMBIENT_TIMEOUT_HELM_INSTALL=8m) override
 * them, in that order, for slow CI runners.
 */
export const TIMEOUT_DOCS = {
  preflight: 'each preflight probe (docker info, tool --version): they answer in seconds or not at all',
  clusterCreate: 'kind create cluster, including node boot and control-plane Ready (--wait)',
  clusterDelete: 'kind delete cluster',
  nodesReady: 'every node reporting Ready after create (kindnet up on workers)',
  helmInstall: 'one helm install/upgrade --wait (per chart); also passed to helm as --timeout',
  helmUninstall: 'one helm uninstall --wait',
  podReady: 'a pod or DaemonSet rollout becoming Ready (includes image pulls on a cold node)',
  namespaceDelete: 'a namespace and its finalizers being really gone',
  meshEnrollment: 'istio-cni annotating a new pod ambient.istio.io/redirection=enabled',
  ztunnelProgrammed: 'ztunnel config_dump showing a new workload (xDS push and in-pod setup)',
  dataplaneConvergence: 'a policy change taking effect in the dataplane (NetworkPolicy, AuthorizationPolicy)',
  probe: 'one application probe (HTTP request) from a client pod',
  exec: 'one kubectl-exec style command in a pod',
  apiRequest:
    'one Kubernetes API request (a read, create or delete that the server accepts and never answers fails, and is retried, instead of stalling the run)',
  metricsAvailable: 'metrics.k8s.io serving PodMetrics for a pod (two scrapes after start)',
  budgetWindow: 'how long resource samples of istio-system are collected under probe traffic (BUDGET-01)',
  diagnostics:
    'collecting diagnostics for one failed test (hard deadline, so a hung call cannot hide the failure)',
  logExport: 'kind export logs after a failed run',
  pollInterval: 'how often a wait re-reads the state it awaits (every pollUntil and holdsFor)',
  readyHold:
    'how long a pod must stay Ready without a restart to count as stable (NETPOL-07: kubelet probes keep passing)',
  metricResolution:
    'metrics-server’s scrape interval (its --metric-resolution, 15s by default): resource samples are taken once per resolution',
  memoryWindow: 'how long ztunnel memory is sampled at each scale (BUDGET-02)',
  commandGrace:
    'how long a command may outlive the timeout it was given (helm --timeout) before it is stopped, so that its own timeout message is seen',
  bodySettle:
    'how long a test body that was stopped (timeout, Ctrl-C) may take to return before diagnostics and cleanup',
} as const;

export type TimeoutKey = keyof typeof TIMEOUT_DOCS;
export type TimeoutTable = Record<TimeoutKey, number>;

const S = 1000;
const M = 60 * S;

/** Defaults sized for a 4-CPU CI runner with cold image caches. */
export const DEFAULT_TIMEOUTS: TimeoutTable = {
  preflight: 15 * S,
  clusterCreate: 5 * M,
  clusterDelete: 2 * M,
  nodesReady: 3 * M,
  helmInstall: 5 * M,
  helmUninstall: 3 * M,
  podReady: 3 * M,
  namespaceDelete: 2 * M,
  meshEnrollment: 60 * S,
  ztunnelProgrammed: 60 * S,
  dataplaneConvergence: 60 * S,
  probe: 12 * S,
  exec: 30 * S,
  apiRequest: 60 * S,
  metricsAvailable: 2 * M,
  budgetWindow: 90 * S,
  diagnostics: 60 * S,
  logExport: 2 * M,
  pollInterval: 2 * S,
  readyHold: 30 * S,
  metricResolution: 15 * S,
  memoryWindow: 30 * S,
  commandGrace: 30 * S,
  bodySettle: 10 * S,
};

const UNIT_MS: Record<string, number> = { ms: 1, s: S, m: M, h: 60 * M };

/** The longest delay a Node.js timer holds (2^31-1 ms, about 24.8 days); longer ones fire at once. */
export const NODE_TIMER_MAX_MS = 2 ** 31 - 1;

/**
 * The longest timeout a profile or the environment may set: 24 hours. The run waits up to four
 * times a timeout for one test (harness/conformance/define.ts testBudget) and adds margins to some
 * (helm's own --timeout plus 30 s), and every one of those must stay below NODE_TIMER_MAX_MS.
 */
export const MAX_TIMEOUT_MS = 24 * 60 * M;

/** What a timeout must be, for messages. */
export const TIMEOUT_RANGE = 'a duration above 0 and at most 24h, such as 90s, 5m, 1m30s or 1500ms';

/** Why `ms` cannot be a timeout, or undefined when it can. */
export function timeoutProblem(ms: number): string | undefined {
  if (!Number.isFinite(ms) || ms > MAX_TIMEOUT_MS)
    return `longer than 24h (${MAX_TIMEOUT_MS} ms; a Node.js timer holds at most ${NODE_TIMER_MAX_MS} ms, and a test may wait 4 times a timeout)`;
  if (ms <= 0) return 'zero: it would expire at once';
  return undefined;
}

/** Parses "90s", "5m", "1m30s", "1500ms" or a bare number of seconds. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * S);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(trimmed); m !== null; m = re.exec(trimmed)) {
    total += Number(m[1]) * (UNIT_MS[m[2] ?? 's'] ?? S);
    consumed = re.lastIndex;
  }
  if (trimmed.length === 0 || consumed !== trimmed.length) {
    throw new UserInputError(`invalid duration ${clip(JSON.stringify(text))}`, {
      expected: 'a duration such as 90s, 5m, 1m30s or 1500ms',
      seen: clip(JSON.stringify(text)),
    });
  }
  return Math.round(total);
}

/** "300s" style rendering for flags such as helm --timeout. */
export function formatSeconds(ms: number): string {
  return `${Math.ceil(ms / S)}s`;
}

export function humanDuration(ms: number): string {
  if (ms < S) return `${Math.round(ms)}ms`;
  if (ms < M) return `${(ms / S).toFixed(1)}s`;
  const m = Math.floor(ms / M);
  const s = Math.round((ms % M) / S);
  return `${m}m${String(s).padStart(2, '0')}s`;
}

function envKey(key: string): string {
  return `AMBIENT_TIMEOUT_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

const ENV_PREFIX = 'AMBIENT_TIMEOUT_';

/**
 * Resolves the table: defaults, then the profile's overrides, then the environment
 * (AMBIENT_TIMEOUT_<KEY>; an empty value counts as unset). A malformed or out-of-range value, and
 * an AMBIENT_TIMEOUT_ variable that names no timeout, are the user's input: exit 2 naming the
 * variable (and the closest known one).
 */
export function resolveTimeouts(
  profileOverrides: Partial<Record<TimeoutKey, number>> = {},
  env: NodeJS.ProcessEnv = process.env,
): TimeoutTable {
  const keys = Object.keys(TIMEOUT_DOCS) as TimeoutKey[];
  const known = keys.map(envKey);
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(ENV_PREFIX) || known.includes(name)) continue;
    // Compare what follows the shared prefix, so the prefix does not make everything look close.
    const tail = closest(
      name.slice(ENV_PREFIX.length),
      known.map((k) => k.slice(ENV_PREFIX.length)),
    );
    const near = tail === undefined ? undefined : `${ENV_PREFIX}${tail}`;
    throw new UserInputError(`unknown environment variable ${clip(name, 80)}`, {
      expected: `one of ${ENV_PREFIX}<timeout>: ${known.join(', ')}`,
      seen: clip(name, 80),
      fix: near === undefined ? `unset ${clip(name, 80)}` : `did you mean ${near}?`,
    });
  }
  const table: TimeoutTable = { ...DEFAULT_TIMEOUTS, ...profileOverrides };
  for (const key of keys) {
    const name = envKey(key);
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let ms: number;
    try {
      ms = parseDuration(raw);
    } catch {
      throw new UserInputError(`invalid ${name}=${clip(JSON.stringify(raw), 80)}`, {
        expected: TIMEOUT_RANGE,
        seen: clip(JSON.stringify(raw)),
        fix: `unset ${name} or give it a duration`,
      });
    }
    const problem = timeoutProblem(ms);
    if (problem !== undefined)
      throw new UserInputError(`invalid ${name}=${clip(JSON.stringify(raw), 80)}`, {
        expected: TIMEOUT_RANGE,
        seen: `${clip(JSON.stringify(raw))}: ${problem}`,
        fix: `unset ${name} or give it a duration`,
      });
    table[key] = ms;
  }
  return table;
}

export { envKey as timeoutEnvKey };
