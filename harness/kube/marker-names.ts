/**
 * Names of the run marker (see marker.ts), kept apart so the plan can print them without
 * importing the API adapter.
 */
export const MARKER_NAMESPACE = 'default';
export const MARKER_PREFIX = 'ambient-conformance-';
/** How often a live run renews its marker (ms). */
export const RENEW_EVERY_MS = 20_000;

export function markerName(runId: string): string {
  return `${MARKER_PREFIX}${runId}`;
}
