import type { Outcome } from '../reachability/types.ts';

/**
 * What a probe saw. A probe is a real HTTP request (never a bare TCP connect: in ambient the local
 * ztunnel accepts every connect, so a connect "succeeds" even when policy denies).
 */
export type ObservedClass = 'connected' | 'reset' | 'timeout' | 'refused' | 'dns-error' | 'other';

export interface ProbeResult {
  id: string;
  class: ObservedClass;
  /** curl's exit code. */
  exitCode: number;
  /** HTTP status of the last request (0 when none). */
  httpCode: number;
  elapsedMs: number;
  /** netexec /hostname: the pod that answered. */
  answeredBy?: string;
  /** netexec /clientip: the source IP the server saw (without the port). */
  clientIp?: string;
  detail: string;
}

/** The probe outcome class each model outcome predicts. */
export function expectedClass(outcome: Outcome): ObservedClass {
  return outcome === 'allow' ? 'connected' : outcome === 'drop' ? 'timeout' : 'reset';
}

/**
 * ztunnel gives up connecting to a peer's 15008 after 10 s (CONNECTION_TIMEOUT in ztunnel
 * src/proxy.rs) and then closes the client's already-accepted connection: to the client a
 * NetworkPolicy drop between meshed pods looks like a reset after about 10 s, not a timeout.
 */
const HBONE_TIMEOUT_FLOOR_MS = 9_000;

/**
 * curl exit codes (man curl "EXIT CODES"): 6 could not resolve host, 7 failed to connect
 * (refused), 28 operation timed out, 52 empty reply from server, 56 failure receiving network
 * data (connection reset: what ztunnel's denial looks like, "exit code 56" in the Istio docs).
 */
export function classify(
  exitCode: number,
  httpCode: number,
  elapsedMs: number,
): { class: ObservedClass; detail: string } {
  switch (exitCode) {
    case 0:
      return httpCode >= 200 && httpCode < 400
        ? { class: 'connected', detail: `HTTP ${httpCode}` }
        : { class: 'other', detail: `HTTP ${httpCode}` };
    case 6:
      return { class: 'dns-error', detail: 'curl 6: could not resolve host' };
    case 7:
      return { class: 'refused', detail: 'curl 7: connection refused' };
    case 28:
      return { class: 'timeout', detail: 'curl 28: timed out' };
    case 52:
    case 56:
      return elapsedMs >= HBONE_TIMEOUT_FLOOR_MS
        ? {
            class: 'timeout',
            detail: `curl ${exitCode} after ${Math.round(elapsedMs)}ms: closed by ztunnel after its 10 s HBONE connect timeout (packets dropped)`,
          }
        : {
            class: 'reset',
            detail: `curl ${exitCode}: connection reset (${exitCode === 52 ? 'empty reply' : 'recv failure'})`,
          };
    default:
      return { class: 'other', detail: `curl exit ${exitCode}` };
  }
}
