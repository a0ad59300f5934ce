import os from 'node:os';
import { V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import { InterruptedError, OperationError } from '../errors.ts';
import { log } from '../progress.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, RUN_ID_LABEL } from '../plan.ts';
import { createWithRetry, isNotFound, statusOf, withRetry, type KubeClients } from './client.ts';
import { MARKER_NAMESPACE, MARKER_PREFIX, RENEW_EVERY_MS, markerName } from './marker-names.ts';

/**
 * The run marker: one coordination.k8s.io/v1 Lease per run in a user's cluster
 * (default/ambient-conformance-<run-id>), labelled with the run ID, that records the Helm releases
 * this run installs (written before each install starts, so an interrupted install is on it) and
 * that the run renews while it lives. `ambient-conformance clean` sweeps only runs whose marker
 * has expired, so a live run from another machine is never swept, and uninstalls only releases
 * on a marker, so Istio this tool did not install is never touched. Helm 3 before 3.13 cannot
 * label releases (`--labels` arrived in 3.13), hence a marker object rather than release labels.
 *
 * Lease fields (holderIdentity, leaseDurationSeconds, acquireTime, renewTime as RFC 3339
 * MicroTime) follow kubernetes v1.34.0 staging/src/k8s.io/api/coordination/v1/types.go. MicroTime
 * is parsed with exactly six fractional digits (apimachinery v0.34.0
 * pkg/apis/meta/v1/micro_time.go, RFC3339Micro): client-node's V1MicroTime writes them, a plain
 * Date (three digits) is refused with 400. A Lease update must carry the resourceVersion it
 * replaces (pkg/registry/coordination/lease/strategy.go: no unconditional update), else 422.
 */
export { MARKER_NAMESPACE, MARKER_PREFIX, RENEW_EVERY_MS, markerName };
/** JSON array of {"name","namespace"}: the Helm releases the run installs, in install order. */
export const RELEASES_ANNOTATION = 'ambient-conformance.io/helm-releases';
/** "true" on the marker of a run that ended with --keep: `clean` leaves it unless asked. */
export const KEPT_ANNOTATION = 'ambient-conformance.io/kept';
/** How long a marker stays live without renewal (s). */
export const LEASE_SECONDS = 60;
/** A marker is stale after this many lease durations without renewal (allows for clock skew). */
export const STALE_AFTER_LEASES = 3;

export interface ReleaseRef {
  name: string;
  namespace: string;
}

export interface RunMarker {
  runId: string;
  name: string;
  holder: string;
  renewTime: Date | undefined;
  leaseSeconds: number;
  releases: ReleaseRef[];
  /** The run ended with --keep: what it left is meant to stay. */
  kept: boolean;
}

/** The Lease for a run, renewed at `now`, holding `releases`. Pure. */
export function markerLease(
  runId: string,
  holder: string,
  now: Date,
  releases: ReleaseRef[],
  kept = false,
  resourceVersion?: string,
): V1Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: markerName(runId),
      namespace: MARKER_NAMESPACE,
      ...(resourceVersion ? { resourceVersion } : {}),
      labels: { [RUN_ID_LABEL]: runId, [MANAGED_BY_LABEL]: MANAGED_BY },
      annotations: {
        [RELEASES_ANNOTATION]: JSON.stringify(releases),
        ...(kept ? { [KEPT_ANNOTATION]: 'true' } : {}),
      },
    },
    spec: {
      holderIdentity: holder,
      leaseDurationSeconds: LEASE_SECONDS,
      acquireTime: new V1MicroTime(now),
      renewTime: new V1MicroTime(now),
    },
  };
}

/** Reads a marker back; undefined for a Lease that is not one (no run-ID label). Pure. */
export function parseMarker(lease: V1Lease): RunMarker | undefined {
  const runId = lease.metadata?.labels?.[RUN_ID_LABEL];
  if (!runId) return undefined;
  let releases: ReleaseRef[] = [];
  try {
    const parsed: unknown = JSON.parse(lease.metadata?.annotations?.[RELEASES_ANNOTATION] ?? '[]');
    if (Array.isArray(parsed))
      releases = parsed.filter(
        (r): r is ReleaseRef =>
          typeof (r as ReleaseRef | null)?.name === 'string' &&
          typeof (r as ReleaseRef | null)?.namespace === 'string',
      );
  } catch {
    releases = [];
  }
  const renew = lease.spec?.renewTime;
  return {
    runId,
    name: lease.metadata?.name ?? markerName(runId),
    holder: lease.spec?.holderIdentity ?? 'unknown',
    renewTime: renew ? new Date(renew) : undefined,
    leaseSeconds: lease.spec?.leaseDurationSeconds ?? LEASE_SECONDS,
    releases,
    kept: lease.metadata?.annotations?.[KEPT_ANNOTATION] === 'true',
  };
}

/** Live: renewed within STALE_AFTER_LEASES lease durations before `now`. Pure. */
export function isLive(m: RunMarker, now: Date): boolean {
  if (!m.renewTime || Number.isNaN(m.renewTime.getTime())) return false;
  return now.getTime() - m.renewTime.getTime() < m.leaseSeconds * 1000 * STALE_AFTER_LEASES;
}

/** This process, as the marker's holder: "<host>/<pid>". */
export function holderIdentity(): string {
  return `${os.hostname()}/${process.pid}`;
}

/**
 * The run's marker in the cluster: created before the run creates anything there, given each
 * release before it is installed, renewed every RENEW_EVERY_MS, deleted last at teardown.
 */
export class MarkerHandle {
  private releases: ReleaseRef[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly holder = holderIdentity();
  private kept = false;
  private acquired = new Date();
  private warned = false;
  /** Clients for the run's own calls (cancelled with the run) and for renewal and --keep. */
  private readonly kube: () => KubeClients;
  private readonly lasting: () => KubeClients;
  readonly runId: string;
  constructor(kube: () => KubeClients, lasting: () => KubeClients, runId: string) {
    this.kube = kube;
    this.lasting = lasting;
    this.runId = runId;
  }

  async create(): Promise<void> {
    this.acquired = new Date();
    const body = markerLease(this.runId, this.holder, this.acquired, this.releases);
    const what = `${MARKER_NAMESPACE}/${markerName(this.runId)}`;
    try {
      await createWithRetry(`create run marker ${what}`, () =>
        this.kube().coordination.createNamespacedLease({ namespace: MARKER_NAMESPACE, body }),
      );
    } catch (e) {
      if (e instanceof InterruptedError) throw e;
      const code = statusOf(e);
      throw new OperationError(`cannot create the run marker Lease ${what}`, {
        expected: `permission to create, update and delete coordination.k8s.io Leases in ${MARKER_NAMESPACE}`,
        seen:
          code !== undefined
            ? `HTTP ${code}`
            : e instanceof Error
              ? (e.message.split('\n')[0] ?? '')
              : String(e),
        fix: `grant this user leases (create, get, update, delete) in ${MARKER_NAMESPACE}: the marker lets \`ambient-conformance clean\` remove what an interrupted run left`,
      });
    }
    this.timer = setInterval(() => {
      this.renew(this.lasting()).catch((e: unknown) => {
        // A marker that is not renewed looks stale to `clean` after 3 minutes: say so once.
        if (!this.warned)
          log.warn(
            `run marker ${markerName(this.runId)} could not be renewed (${e instanceof Error ? e.message : String(e)}); \`clean\` elsewhere may take this run for a dead one`,
          );
        this.warned = true;
      });
    }, RENEW_EVERY_MS);
    this.timer.unref();
  }

  /** Adds a release (before it is installed) and renews; fails the step if it cannot. */
  async addRelease(r: ReleaseRef): Promise<void> {
    if (!this.releases.some((x) => x.name === r.name && x.namespace === r.namespace)) this.releases.push(r);
    await this.renew(this.kube());
  }

  /** The run ends with --keep: stop renewing and say so on the marker (not cancelled by the run's signal). */
  async markKept(): Promise<void> {
    this.stopRenewing();
    this.kept = true;
    await this.renew(this.lasting());
  }

  /** Read-modify-write with the current resourceVersion; a conflict (409) is retried with a fresh read. */
  private async renew(kube: KubeClients): Promise<void> {
    const name = markerName(this.runId);
    for (let attempt = 1; ; attempt++) {
      const current = await withRetry(`read run marker ${name}`, () =>
        kube.coordination.readNamespacedLease({ name, namespace: MARKER_NAMESPACE }),
      );
      const body = markerLease(
        this.runId,
        this.holder,
        new Date(),
        this.releases,
        this.kept,
        current.metadata?.resourceVersion,
      );
      if (body.spec) body.spec.acquireTime = new V1MicroTime(this.acquired);
      try {
        await withRetry(`renew run marker ${name}`, () =>
          kube.coordination.replaceNamespacedLease({ name, namespace: MARKER_NAMESPACE, body }),
        );
        return;
      } catch (e) {
        if (statusOf(e) !== 409 || attempt >= 3) throw e;
      }
    }
  }

  stopRenewing(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Lists the markers of every run of this tool in the cluster. */
export async function listMarkers(kube: KubeClients): Promise<RunMarker[]> {
  const list = await withRetry('list run markers', () =>
    kube.coordination.listNamespacedLease({
      namespace: MARKER_NAMESPACE,
      labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}`,
    }),
  );
  return list.items.map(parseMarker).filter((m): m is RunMarker => m !== undefined);
}

/** Deletes a run's marker; a marker already gone is fine. */
export async function deleteMarker(kube: KubeClients, runId: string): Promise<void> {
  try {
    await withRetry(`delete run marker ${markerName(runId)}`, () =>
      kube.coordination.deleteNamespacedLease({ name: markerName(runId), namespace: MARKER_NAMESPACE }),
    );
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}
