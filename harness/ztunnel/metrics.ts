/**
 * Prometheus text exposition (ztunnel :15020/metrics). Counter names end in _total with the
 * istio_ prefix; labels include reporter, source_principal, destination_principal,
 * connection_security_policy ("mutual_tls" for HBONE legs) and response_flags ("DENY" for a policy
 * denial).
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    for (let l = re.exec(m[2] ?? ''); l; l = re.exec(m[2] ?? ''))
      labels[l[1] ?? ''] = (l[2] ?? '').replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    const v = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    out.push({ name: m[1] ?? '', labels, value: v });
  }
  return out;
}

export function select(samples: Sample[], name: string, match: Record<string, string>): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

export function sum(samples: Sample[]): number {
  return samples.reduce((n, s) => n + s.value, 0);
}

/** The series AUTHZ-01 reads, as a user would query it. */
export const DENIED_SERIES =
  'istio_tcp_connections_closed_total{reporter="destination",response_flags="DENY"}';

/**
 * Connections a destination ztunnel denied by policy, for destinations in `namespace`. In ztunnel
 * 1.28.3 the opened counter is incremented when the connection starts, always with
 * response_flags="-"; the denial sets response_flags="DENY" and is counted only by
 * istio_tcp_connections_closed_total (src/proxy/metrics.rs ConnectionResult::new and
 * record_with_flag; src/proxy/inbound.rs assert_rbac with AuthorizationPolicyDenied).
 */
export function deniedConnections(samples: Sample[], namespace: string): Sample[] {
  return select(samples, 'istio_tcp_connections_closed_total', {
    reporter: 'destination',
    response_flags: 'DENY',
    destination_workload_namespace: namespace,
  });
}
