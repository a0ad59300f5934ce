/**
 * ztunnel access log lines (scope "access"; ztunnel src/proxy/metrics.rs, src/telemetry.rs).
 * Text: "<RFC3339>\t<level>\taccess\t<message>\tk=v k="quoted v" …"; JSON (LOG_FORMAT=json):
 * {"level","time","scope","message", "src.addr": …}. Fields: src.addr, src.workload,
 * src.namespace, src.identity (mTLS only), dst.addr (podIP:15008 outbound HBONE), dst.hbone_addr,
 * dst.service, dst.workload, dst.namespace, dst.identity, direction, bytes_sent, bytes_recv,
 * duration, error.
 */
export interface AccessLogEntry {
  time: string;
  level: string;
  scope: string;
  message: string;
  fields: Record<string, string>;
}

const TEXT = /^(\S+)\t(\w+)\t(\S+)\t([^\t]*)(?:\t(.*))?$/;

function parseKv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Za-z0-9_.]+)=("(?:[^"\\]|\\.)*"|\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const raw = m[2] ?? '';
    out[m[1] ?? ''] = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
  }
  return out;
}

const asText = (v: unknown): string => (typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v));

export function parseAccessLogLine(line: string): AccessLogEntry | undefined {
  const trimmed = line.trim();
  if (trimmed.startsWith('{')) {
    try {
      const j = JSON.parse(trimmed) as Record<string, unknown>;
      const fields: Record<string, string> = {};
      for (const [k, v] of Object.entries(j))
        if (!['level', 'time', 'scope', 'message'].includes(k))
          fields[k] = typeof v === 'string' ? v : JSON.stringify(v);
      return {
        time: asText(j.time),
        level: asText(j.level),
        scope: asText(j.scope),
        message: asText(j.message),
        fields,
      };
    } catch {
      return undefined;
    }
  }
  const m = TEXT.exec(trimmed);
  if (!m) return undefined;
  return {
    time: m[1] ?? '',
    level: m[2] ?? '',
    scope: m[3] ?? '',
    message: m[4] ?? '',
    fields: parseKv(m[5] ?? ''),
  };
}

export function parseAccessLog(text: string): AccessLogEntry[] {
  return text
    .split('\n')
    .map(parseAccessLogLine)
    .filter((e): e is AccessLogEntry => e !== undefined && e.scope === 'access');
}

/** "10.244.1.7:15008" -> "10.244.1.7" (also [v6]:port). */
export function hostOf(addr: string | undefined): string {
  if (!addr) return '';
  if (addr.startsWith('[')) return addr.slice(1, addr.indexOf(']'));
  return addr.replace(/:\d+$/, '');
}

/** Completed connections between two pod IPs, as either ztunnel logged them. */
export function connectionsBetween(
  entries: AccessLogEntry[],
  srcIp: string,
  dstIp: string,
): AccessLogEntry[] {
  return entries.filter(
    (e) =>
      (e.message === 'connection complete' || e.message === 'connection failed') &&
      hostOf(e.fields['src.addr']) === srcIp &&
      (hostOf(e.fields['dst.addr']) === dstIp || hostOf(e.fields['dst.hbone_addr']) === dstIp),
  );
}
