import { shellLine } from './shell.ts';
import { isLive, type ReleaseRef, type RunMarker } from './kube/marker.ts';
import { MARKER_NAMESPACE, markerName } from './kube/marker-names.ts';
import { RUN_ID_LABEL } from './plan.ts';
import { humanDuration } from './timeouts.ts';

/**
 * What `ambient-conformance clean` finds in a user's cluster, per run of this tool, and whether it
 * may be removed. Pure: the inputs are the markers (Leases) and the namespaces labelled
 * app.kubernetes.io/managed-by=ambient-conformance, read by the command.
 */
export type SweepState = 'live' | 'stale' | 'kept' | 'unmarked';

export interface SweepRun {
  runId: string;
  state: SweepState;
  /** Why it is in that state, for people: "renewed 12s ago by host/123". */
  why: string;
  releases: ReleaseRef[];
  namespaces: string[];
  hasMarker: boolean;
  /** Removed by `clean --yes`: stale and unmarked runs; kept ones with --include-kept. */
  remove: boolean;
}

export interface SweepInput {
  markers: RunMarker[];
  /** Namespaces of this tool, with the run-ID label value (undefined when it has none). */
  namespaces: { name: string; runId: string | undefined }[];
  now: Date;
  includeKept: boolean;
}

export function planSweep(i: SweepInput): SweepRun[] {
  const ids = new Set<string>([
    ...i.markers.map((m) => m.runId),
    ...i.namespaces.map((n) => n.runId).filter((x): x is string => x !== undefined),
  ]);
  const runs: SweepRun[] = [];
  for (const runId of [...ids].sort()) {
    const m = i.markers.find((x) => x.runId === runId);
    const namespaces = i.namespaces
      .filter((n) => n.runId === runId)
      .map((n) => n.name)
      .sort();
    const ago = m?.renewTime
      ? humanDuration(Math.max(0, i.now.getTime() - m.renewTime.getTime()))
      : undefined;
    let state: SweepState;
    let why: string;
    if (!m) {
      state = 'unmarked';
      why = 'no run marker: its run ended without removing these namespaces';
    } else if (m.kept) {
      state = 'kept';
      why = `kept by its run (--keep); last renewed ${ago ?? '?'} ago by ${m.holder}`;
    } else if (isLive(m, i.now)) {
      state = 'live';
      why = `renewed ${ago ?? '?'} ago by ${m.holder}: a run in progress, never swept`;
    } else {
      state = 'stale';
      why = m.renewTime
        ? `not renewed for ${ago ?? '?'} (holder ${m.holder}): its run is gone`
        : `never renewed (holder ${m.holder}): its run is gone`;
    }
    runs.push({
      runId,
      state,
      why,
      releases: m?.releases ?? [],
      namespaces,
      hasMarker: m !== undefined,
      remove: state === 'stale' || state === 'unmarked' || (state === 'kept' && i.includeKept),
    });
  }
  return runs;
}

/** The commands that remove a run's leftovers by hand, in the order `clean --yes` runs them. */
export function sweepCommands(
  r: SweepRun,
  target: { kubeconfig: string; context?: string },
  helmPath = 'helm',
): string[] {
  const kube = ['--kubeconfig', target.kubeconfig, ...(target.context ? ['--context', target.context] : [])];
  const helmKube = [
    '--kubeconfig',
    target.kubeconfig,
    ...(target.context ? ['--kube-context', target.context] : []),
  ];
  const q = shellLine;
  return [
    ...[...r.releases]
      .reverse()
      .map((x) => q([helmPath, 'uninstall', x.name, '--namespace', x.namespace, '--wait', ...helmKube])),
    ...(r.namespaces.length
      ? [q(['kubectl', ...kube, 'delete', 'namespace', '-l', `${RUN_ID_LABEL}=${r.runId}`])]
      : []),
    ...(r.hasMarker
      ? [q(['kubectl', ...kube, 'delete', 'lease', '-n', MARKER_NAMESPACE, markerName(r.runId)])]
      : []),
  ];
}
