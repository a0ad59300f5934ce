/**
 * The leftovers report: what of Istio remains in the cluster after removal, and whether the
 * profile allows it. Known by design: the 14 *.istio.io CRDs (helm.sh/resource-policy: keep) and
 * the istio-ca-root-cert ConfigMap in every namespace (istiod's namespace controller).
 */
export interface Leftover {
  kind: string;
  name: string;
  namespace?: string;
  detail?: string;
}

export interface AllowedLeftover {
  kind: string;
  name: string;
  namespace?: string;
  reason: string;
}

function glob(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(value);
}

export function allowedBy(l: Leftover, allowed: AllowedLeftover[]): AllowedLeftover | undefined {
  return allowed.find(
    (a) =>
      a.kind === l.kind &&
      glob(a.name, l.name) &&
      (a.namespace === undefined || l.namespace === undefined || glob(a.namespace, l.namespace)),
  );
}

export function diffLeftovers(
  found: Leftover[],
  allowed: AllowedLeftover[],
): { allowed: (Leftover & { reason: string })[]; unexpected: Leftover[] } {
  const ok: (Leftover & { reason: string })[] = [];
  const bad: Leftover[] = [];
  for (const l of found) {
    const a = allowedBy(l, allowed);
    if (a) ok.push({ ...l, reason: a.reason });
    else bad.push(l);
  }
  return { allowed: ok, unexpected: bad };
}

export function describeLeftover(l: Leftover): string {
  return `${l.kind} ${l.namespace ? `${l.namespace}/` : ''}${l.name}${l.detail ? ` (${l.detail})` : ''}`;
}

/** The 14 CRDs of the base chart (1.28). */
export const ISTIO_CRDS = [
  'wasmplugins.extensions.istio.io',
  'destinationrules.networking.istio.io',
  'envoyfilters.networking.istio.io',
  'gateways.networking.istio.io',
  'proxyconfigs.networking.istio.io',
  'serviceentries.networking.istio.io',
  'sidecars.networking.istio.io',
  'virtualservices.networking.istio.io',
  'workloadentries.networking.istio.io',
  'workloadgroups.networking.istio.io',
  'authorizationpolicies.security.istio.io',
  'peerauthentications.security.istio.io',
  'requestauthentications.security.istio.io',
  'telemetries.telemetry.istio.io',
];

export function leftoversReport(found: Leftover[], allowed: AllowedLeftover[]): string {
  const d = diffLeftovers(found, allowed);
  const lines = [
    '# Leftovers after removal',
    '',
    `${found.length} object(s) remain: ${d.allowed.length} allowed by the profile, ${d.unexpected.length} unexpected.`,
    '',
  ];
  lines.push('## Allowed', '', ...d.allowed.map((l) => `- ${describeLeftover(l)}: ${l.reason}`), '');
  lines.push(
    '## Unexpected',
    '',
    ...(d.unexpected.length ? d.unexpected.map((l) => `- ${describeLeftover(l)}`) : ['- none']),
    '',
  );
  return lines.join('\n');
}
