/**
 * `istioctl ztunnel-config workloads` (istioctl/pkg/writer/ztunnel/configdump/workload.go): a
 * tabwriter table whose header, since 1.24, is NAMESPACE, POD NAME, ADDRESS, NODE, WAYPOINT,
 * PROTOCOL ("POD NAME" holds a space; the docs' "IP" column is stale).
 */
export interface IstioctlWorkloadRow {
  namespace: string;
  podName: string;
  address: string;
  node: string;
  waypoint: string;
  protocol: string;
}

const COLUMNS = ['NAMESPACE', 'POD NAME', 'ADDRESS', 'NODE', 'WAYPOINT', 'PROTOCOL'] as const;

export function parseIstioctlWorkloads(text: string): IstioctlWorkloadRow[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = lines[0] ?? '';
  const starts = COLUMNS.map((c) => header.indexOf(c));
  if (starts.some((s) => s < 0))
    throw new Error(`unexpected istioctl header: ${header.trim()} (expected ${COLUMNS.join(' | ')})`);
  return lines.slice(1).map((line) => {
    const cell = (i: number) =>
      line.slice(starts[i], i + 1 < starts.length ? starts[i + 1] : undefined).trim();
    return {
      namespace: cell(0),
      podName: cell(1),
      address: cell(2),
      node: cell(3),
      waypoint: cell(4),
      protocol: cell(5),
    };
  });
}
