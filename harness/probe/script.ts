import { shellLine } from '../shell.ts';
import { classify, type ProbeResult } from './outcome.ts';

/**
 * One exec per client pod runs all of that client's probes concurrently and prints one line per
 * probe. The script needs only /bin/sh, curl and base64 (all in agnhost's alpine image). Each
 * probe asks the netexec server for /hostname and /clientip over one connection. How long a probe
 * took is what curl reports (`-w %{time_total}` after each transfer, failed ones included), not a
 * clock the script reads, so a simulated cluster can report a 10 s timeout without waiting for it.
 */
export interface ProbeSpec {
  id: string;
  ip: string;
  port: number;
}

export interface ProbeTimeouts {
  /** curl --connect-timeout (plaintext connects that are dropped end here). */
  connectSeconds: number;
  /** curl --max-time; above ztunnel's 10 s HBONE connect timeout so that shows as what it is. */
  maxSeconds: number;
}

export const DEFAULT_PROBE_TIMEOUTS: ProbeTimeouts = { connectSeconds: 5, maxSeconds: 12 };

function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** `-w`: after each transfer (failed ones too) a line "<http_code> <time_total seconds>". */
const WRITE_OUT = '\\n%{http_code} %{time_total}\\n';

export function curlArgs(spec: ProbeSpec, t: ProbeTimeouts): string[] {
  const base = `http://${hostPort(spec.ip, spec.port)}`;
  return [
    'curl',
    '-sS',
    '--fail-early',
    '--connect-timeout',
    String(t.connectSeconds),
    '--max-time',
    String(t.maxSeconds),
    '-w',
    WRITE_OUT,
    `${base}/hostname`,
    `${base}/clientip`,
  ];
}

export function buildProbeScript(specs: ProbeSpec[], t: ProbeTimeouts = DEFAULT_PROBE_TIMEOUTS): string {
  for (const s of specs)
    if (!/^[A-Za-z0-9_.:-]+$/.test(s.id) || !/^[0-9a-fA-F.:]+$/.test(s.ip))
      throw new Error(`unsafe probe spec ${JSON.stringify(s)}`);
  const lines = [
    'p() {',
    // --fail-early: a failed first request ends the probe, so a dropped cell costs one timeout, not two.
    `  out=$(curl -sS --fail-early --connect-timeout ${t.connectSeconds} --max-time ${t.maxSeconds} -w '${WRITE_OUT}' "http://$2/hostname" "http://$2/clientip" 2>&1)`,
    '  rc=$?',
    '  printf "PROBE %s rc=%s out=%s\\n" "$1" "$rc" "$(printf "%s" "$out" | base64 | tr -d "\\n")"',
    '}',
    ...specs.map((s) => `p ${s.id} ${hostPort(s.ip, s.port)} &`),
    'wait',
  ];
  return lines.join('\n');
}

const LINE = /^PROBE (\S+) rc=(\d+) out=(\S*)$/;
/** curl's write-out after each transfer: the HTTP code (000 when none) and the transfer's seconds. */
const WRITE_OUT_LINE = /^(\d{3}) (\d+(?:\.\d+)?)$/;

/**
 * Parses the script's output. curl prints "<body>\n<code>\n" per URL (-w), or its error text
 * on stderr (merged). Probes missing from the output are reported as "other".
 */
export function parseProbeOutput(stdout: string, ids: string[]): ProbeResult[] {
  const seen = new Map<string, ProbeResult>();
  for (const line of stdout.split('\n')) {
    const m = LINE.exec(line.trim());
    if (!m) continue;
    const [, id = '', rc, b64 = ''] = m;
    const out = Buffer.from(b64, 'base64').toString('utf8');
    const exitCode = Number(rc);
    // Per transfer: the body (or curl's error line) and then a write-out line.
    const lines = out.split('\n');
    const bodies: string[] = [];
    const codes: number[] = [];
    let elapsedMs = 0;
    let body: string[] = [];
    for (const l of lines) {
      const w = WRITE_OUT_LINE.exec(l.trim());
      if (!w) {
        body.push(l);
        continue;
      }
      codes.push(Number(w[1]));
      elapsedMs += Number(w[2]) * 1000;
      bodies.push(body.filter((x) => x.trim() !== '' && !x.startsWith('curl:')).join('\n'));
      body = [];
    }
    const httpCode = codes.at(-1) ?? 0;
    const c = classify(exitCode, Number.isFinite(httpCode) ? httpCode : 0, elapsedMs);
    const result: ProbeResult = {
      id,
      class: c.class,
      exitCode,
      httpCode: Number.isFinite(httpCode) ? httpCode : 0,
      elapsedMs,
      detail: c.detail,
    };
    if (c.class === 'connected') {
      result.answeredBy = bodies[0]?.trim();
      const ipPort = bodies[1]?.trim() ?? '';
      result.clientIp = ipPort.startsWith('[')
        ? ipPort.slice(1, ipPort.indexOf(']'))
        : ipPort.replace(/:\d+$/, '');
    } else if (exitCode !== 0) {
      const err = out.split('\n').find((l) => l.startsWith('curl:'));
      if (err) result.detail = `${c.detail}; ${err.trim()}`;
    }
    seen.set(id, result);
  }
  return ids.map(
    (id) =>
      seen.get(id) ?? {
        id,
        class: 'other',
        exitCode: -1,
        httpCode: 0,
        elapsedMs: 0,
        detail: 'no output for this probe (exec failed or was cut off)',
      },
  );
}

/** A command a person can paste to reproduce one probe. */
export function reproCommand(
  namespace: string,
  pod: string,
  container: string,
  spec: ProbeSpec,
  t: ProbeTimeouts = DEFAULT_PROBE_TIMEOUTS,
): string {
  return shellLine([
    'kubectl',
    'exec',
    '-n',
    namespace,
    pod,
    '-c',
    container,
    '--',
    ...curlArgs(spec, t).map((a) => a.replace(/\\n/g, '\\n')),
  ]);
}
