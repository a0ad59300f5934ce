import { X509Certificate } from 'node:crypto';

/**
 * ztunnel's admin /config_dump (localhost:15000), as 1.28 emits it: camelCase keys `workloads`
 * (array), `services`, `policies`, `certificates`, `workloadState` keyed by pod UID (ztunnel
 * src/admin.rs ConfigDump, src/state/workload.rs Workload, src/inpod/admin.rs). Fields equal to
 * their default are omitted. There is no identity field: it is
 * spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>.
 */

export interface ZtunnelWorkload {
  uid: string;
  name: string;
  namespace: string;
  workloadIps: string[];
  /** "HBONE" (meshed) or "TCP" */
  protocol: string;
  node?: string;
  serviceAccount: string;
  trustDomain: string;
  status?: string;
  authorizationPolicies: string[];
}

export interface WorkloadStateEntry {
  uid: string;
  state: string;
  name?: string;
  namespace?: string;
  serviceAccount?: string;
}

export interface CertificateInfo {
  identity: string;
  state: string;
  chain: { serialNumber?: string; validFrom?: string; expirationTime?: string; pem?: string }[];
}

export interface ConfigDump {
  workloads: ZtunnelWorkload[];
  workloadState: WorkloadStateEntry[];
  certificates: CertificateInfo[];
  policies: { name: string; namespace: string; action?: string; scope?: string }[];
}

type Json = Record<string, unknown>;
const str = (v: unknown, d = ''): string => (typeof v === 'string' ? v : d);

function values(v: unknown): Json[] {
  if (Array.isArray(v)) return v.filter((x): x is Json => x !== null && typeof x === 'object');
  // Older dumps (and istioctl's testdata) key workloads by address/uid.
  if (v && typeof v === 'object')
    return Object.values(v as Json).filter((x): x is Json => x !== null && typeof x === 'object');
  return [];
}

export function parseConfigDump(text: string): ConfigDump {
  const raw = JSON.parse(text) as Json;
  const workloads = values(raw.workloads).map((w) => ({
    uid: str(w.uid),
    name: str(w.name),
    namespace: str(w.namespace),
    workloadIps: Array.isArray(w.workloadIps) ? (w.workloadIps as unknown[]).map((x) => str(x)) : [],
    protocol: str(w.protocol, 'TCP'),
    ...(typeof w.node === 'string' ? { node: w.node } : {}),
    serviceAccount: str(w.serviceAccount, 'default'),
    trustDomain: str(w.trustDomain, 'cluster.local'),
    ...(typeof w.status === 'string' ? { status: w.status } : {}),
    authorizationPolicies: Array.isArray(w.authorizationPolicies)
      ? (w.authorizationPolicies as unknown[]).map((x) => str(x))
      : [],
  }));
  const ws =
    raw.workloadState && typeof raw.workloadState === 'object'
      ? (raw.workloadState as Record<string, Json>)
      : {};
  const workloadState = Object.entries(ws).map(([uid, e]) => {
    const info = (e.info ?? {}) as Json;
    return {
      uid,
      state: str(e.state, 'unknown'),
      ...(typeof info.name === 'string' ? { name: info.name } : {}),
      ...(typeof info.namespace === 'string' ? { namespace: info.namespace } : {}),
      ...(typeof info.serviceAccount === 'string' ? { serviceAccount: info.serviceAccount } : {}),
    };
  });
  const certificates = values(raw.certificates).map((c) => ({
    identity: str(c.identity),
    state: str(c.state),
    chain: values(c.certChain).map((x) => ({
      ...(typeof x.serialNumber === 'string' ? { serialNumber: x.serialNumber } : {}),
      ...(typeof x.validFrom === 'string' ? { validFrom: x.validFrom } : {}),
      ...(typeof x.expirationTime === 'string' ? { expirationTime: x.expirationTime } : {}),
      ...(typeof x.pem === 'string' ? { pem: pemText(x.pem) } : {}),
    })),
  }));
  const policies = values(raw.policies).map((p) => ({
    name: str(p.name),
    namespace: str(p.namespace),
    ...(typeof p.action === 'string' ? { action: p.action } : {}),
    ...(typeof p.scope === 'string' ? { scope: p.scope } : {}),
  }));
  return { workloads, workloadState, certificates, policies };
}

/**
 * ztunnel 1.28.3 dumps `certChain[].pem` as base64 of the PEM text (src/admin.rs dump_cert:
 * `base64_encode(cert.as_pem())`, and the expected JSON in its own unit test, which starts
 * "LS0tLS1CRUdJTi"). Decoded here; a value that already is PEM text is kept as it is.
 */
export function pemText(value: string): string {
  const v = value.trim();
  if (v.startsWith('-----BEGIN')) return value;
  const decoded = Buffer.from(v, 'base64').toString('utf8');
  return decoded.startsWith('-----BEGIN') ? decoded : value;
}

/**
 * The dump's `serialNumber` is the decimal form of the serial (src/tls/certificate.rs
 * `serial()`: the parsed BigUint's to_string()); node's X509Certificate gives it in hex.
 */
export function serialToDecimal(hex: string): string {
  return BigInt(`0x${hex}`).toString(10);
}

export function spiffeOf(w: Pick<ZtunnelWorkload, 'trustDomain' | 'namespace' | 'serviceAccount'>): string {
  return `spiffe://${w.trustDomain}/ns/${w.namespace}/sa/${w.serviceAccount}`;
}

export function findWorkload(dump: ConfigDump, namespace: string, name: string): ZtunnelWorkload | undefined {
  return dump.workloads.find((w) => w.namespace === namespace && w.name === name);
}

/**
 * MTLS-05 for one identity: a certificate that is Available, whose leaf is valid now (from the
 * dump's validFrom/expirationTime, and from the PEM itself when present) and names the identity.
 */
export function judgeCertificate(dump: ConfigDump, identity: string, now: Date): string[] {
  const cert = dump.certificates.find((c) => c.identity === identity);
  if (!cert)
    return [
      `no certificate for ${identity} (ztunnel holds: ${dump.certificates.map((c) => c.identity).join(', ') || 'none'})`,
    ];
  const problems: string[] = [];
  if (cert.state !== 'Available') problems.push(`${identity}: state ${cert.state}, expected Available`);
  const leaf = cert.chain[0];
  if (!leaf) return [...problems, `${identity}: empty certificate chain`];
  if (leaf.expirationTime && Date.parse(leaf.expirationTime) <= now.getTime())
    problems.push(`${identity}: expired at ${leaf.expirationTime}`);
  if (leaf.validFrom && Date.parse(leaf.validFrom) > now.getTime())
    problems.push(`${identity}: not valid before ${leaf.validFrom}`);
  if (leaf.pem) {
    try {
      const x = new X509Certificate(leaf.pem);
      if (!(x.subjectAltName ?? '').includes(`URI:${identity}`))
        problems.push(`${identity}: leaf SAN is ${x.subjectAltName ?? '(none)'}`);
      if (Date.parse(x.validTo) <= now.getTime()) problems.push(`${identity}: PEM expired at ${x.validTo}`);
      if (leaf.serialNumber !== undefined && leaf.serialNumber !== serialToDecimal(x.serialNumber))
        problems.push(
          `${identity}: dump serialNumber ${leaf.serialNumber} is not the leaf's serial (${serialToDecimal(x.serialNumber)})`,
        );
    } catch (e) {
      problems.push(`${identity}: leaf PEM does not parse: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return problems;
}
