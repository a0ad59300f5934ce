import net from 'node:net';

/**
 * The value rules the Kubernetes API server applies to the fields `netpol matrix` reads, re-expressed
 * from upstream (facts only; no upstream code or text is copied). Each function returns undefined when
 * the value is valid, else what was expected, for a UserInputError.
 *
 * Sources:
 * - kubernetes/apimachinery tag v0.34.10 (the published staging/src/k8s.io/apimachinery of
 *   Kubernetes v1.34.10): pkg/util/validation/validation.go (IsDNS1123Label, IsDNS1123Subdomain,
 *   IsQualifiedName, IsValidLabelValue, IsValidPortNum, IsValidPortName), pkg/util/validation/ip.go
 *   (parseIP, parseCIDR, IsValidCIDRForLegacyField, GetWarningsForCIDR), pkg/api/validation/generic.go
 *   (NameIsDNSSubdomain, NameIsDNSLabel, ValidateNamespaceName), pkg/api/validation/objectmeta.go
 *   (ValidateObjectMetaAccessor, ValidateAnnotations, TotalAnnotationSizeLimitB),
 *   pkg/apis/meta/v1/validation/validation.go (ValidateLabelSelector,
 *   ValidateLabelSelectorRequirement, ValidateLabels).
 * - kubernetes/kubernetes, which is too large to fetch whole here, read file by file from a code
 *   index at master commit 019c5dc51786ef4d3a3c670a852267d2b087016c (after v1.35):
 *   pkg/apis/networking/validation/validation.go (ValidateNetworkPolicyPort, ValidateNetworkPolicyPeer,
 *   ValidateNetworkPolicySpec, ValidateIPBlock; an older copy in the index has the same rules for a
 *   create, master only adds ratcheting of CIDRs an update leaves unchanged), and
 *   pkg/features/kube_features.go, where StrictIPCIDRValidation still has a single entry: 1.33,
 *   alpha, off by default. So v1.34 (and v1.35) validate ipBlock CIDRs the "legacy" way, strict
 *   validation only warning (kubernetes/enhancements keps/sig-network/4858-ip-cidr-validation).
 *   pkg/apis/core/validation/validation.go (ValidatePodName, validateContainerPorts,
 *   ValidateServiceAccountName) and pkg/apis/core/v1/conversion.go (the serviceAccount alias) were
 *   read the same way.
 */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** IsDNS1123Label: namespace names (ValidateNamespaceName = NameIsDNSLabel) and container names. */
export function dns1123Label(v: string): string | undefined {
  if (v.length <= 63 && DNS1123_LABEL.test(v)) return undefined;
  return 'a DNS-1123 label: at most 63 characters of lower-case letters, digits and "-", beginning and ending with a letter or digit (e.g. loki, web-1)';
}

/** IsDNS1123Subdomain: names of Pods, NetworkPolicies, service accounts and custom resources. */
export function dns1123Subdomain(v: string): string | undefined {
  if (v.length <= 253 && DNS1123_SUBDOMAIN.test(v)) return undefined;
  return 'a DNS-1123 subdomain: at most 253 characters of lower-case letters, digits, "-" and ".", each dot-separated part beginning and ending with a letter or digit (e.g. prometheus-0, loki.ingress)';
}

/** IsQualifiedName: label keys, selector keys and (lower-cased) annotation keys. */
export function qualifiedName(v: string): string | undefined {
  const parts = v.split('/');
  const expected =
    'a qualified name: an optional DNS-1123 subdomain prefix and "/", then a name of at most 63 letters, digits, "-", "_" or ".", beginning and ending with a letter or digit (e.g. app, istio.io/dataplane-mode)';
  if (parts.length > 2) return expected;
  const name = parts.length === 2 ? (parts[1] ?? '') : (parts[0] ?? '');
  if (parts.length === 2) {
    const prefix = parts[0] ?? '';
    if (prefix === '' || dns1123Subdomain(prefix)) return expected;
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME_PART.test(name)) return expected;
  return undefined;
}

/** IsValidLabelValue: empty, or at most 63 characters shaped like a qualified name part. */
export function labelValue(v: string): string | undefined {
  if (v === '' || (v.length <= 63 && QUALIFIED_NAME_PART.test(v))) return undefined;
  return 'a label value: empty, or at most 63 letters, digits, "-", "_" or ".", beginning and ending with a letter or digit';
}

/** IsValidPortNum. */
export function portNumber(v: number): string | undefined {
  return Number.isInteger(v) && v >= 1 && v <= 65535 ? undefined : 'a port number from 1 to 65535';
}

/** IsValidPortName (IANA_SVC_NAME): at most 15 of a-z, 0-9 and "-", one letter at least, no "--", no "-" at either end. */
export function portName(v: string): string | undefined {
  if (
    v.length <= 15 &&
    /^[-a-z0-9]+$/.test(v) &&
    /[a-z]/.test(v) &&
    !v.includes('--') &&
    !v.startsWith('-') &&
    !v.endsWith('-')
  )
    return undefined;
  return 'a port name (IANA_SVC_NAME): at most 15 characters of a-z, 0-9 and "-", with at least one letter, no "--" and no "-" at either end (e.g. http, http-metrics)';
}

/** The three protocols NetworkPolicyPort and ContainerPort accept (ValidateNetworkPolicyPort; core supportedPortProtocols). */
export const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;

export interface ParsedIp {
  value: bigint;
  bits: 32 | 128;
}

export type IpResult = ParsedIp | { error: string };

/**
 * An IP address as the API server's strict validation reads it (ip.go parseIP with strictValidation):
 * no leading zeros in IPv4 octets, no IPv4-mapped IPv6 address, no zone. Kubernetes v1.34 still
 * accepts those two legacy forms with a warning, but they are ambiguous (CVE-2021-29923) and
 * dataplanes read them differently (kube-network-policies v0.8.0, pkg/networkpolicy/networkpolicy.go
 * evaluateIPBlocks, parses with Go's net.ParseCIDR, which rejects leading zeros, and then treats the
 * ipBlock as matching every address), so the matrix refuses them rather than guess.
 */
export function parseIp(s: string): IpResult {
  if (/^[0-9.]+$/.test(s)) {
    const octets = s.split('.');
    if (octets.length !== 4 || octets.some((o) => o === '' || o.length > 3 || Number(o) > 255))
      return { error: 'an IP address (e.g. 10.244.1.10 or fd00::10)' };
    if (octets.some((o) => o.length > 1 && o.startsWith('0')))
      return {
        error:
          'an IPv4 address without leading zeros (Kubernetes warns that they will be invalid; libc reads them as octal)',
      };
    return { value: octets.reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n), bits: 32 };
  }
  if (s.includes('%') || !net.isIPv6(s)) return { error: 'an IP address (e.g. 10.244.1.10 or fd00::10)' };
  const value = ipv6Value(s);
  if (value >> 32n === 0xffffn)
    return {
      error:
        'an IPv4 address written as IPv4 (an IPv4-mapped IPv6 address like ::ffff:10.0.0.1 is read as IPv4 by some software and IPv6 by other)',
    };
  return { value, bits: 128 };
}

function ipv6Value(ip: string): bigint {
  let s = ip;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (v4) {
    const n = v4.slice(1).reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
    s = s.slice(0, v4.index) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

export function formatIp(value: bigint, bits: 32 | 128): string {
  if (bits === 32) return [24n, 16n, 8n, 0n].map((sh) => String((value >> sh) & 255n)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  // RFC 5952: compress the longest run (two or more) of zero groups, the first one on a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export interface ParsedCidr {
  /** The network address: the address with the bits beyond the prefix cleared. */
  network: bigint;
  prefix: number;
  bits: 32 | 128;
  /** Bits set beyond the prefix ("interface address" form, e.g. 10.244.2.20/24). */
  hostBitsSet: boolean;
  /** The masked form, e.g. 10.244.2.0/24. */
  canonical: string;
}

/**
 * A CIDR as ipBlock.cidr and ipBlock.except hold it. Kubernetes v1.34 validates these "legacy" fields
 * with IsValidCIDRForLegacyField and strictValidation off (StrictIPCIDRValidation is alpha, off): the
 * value must parse as address/prefix-length (so no "/33", no bare address, no words), and an address
 * with bits set beyond the prefix length (10.244.2.20/24) is accepted, with the warning "CIDR value
 * ... is ambiguous in this context" (GetWarningsForCIDR), and means its network (10.244.2.0/24): the
 * API server and kube-network-policies both take the network that Go's ParseCIDR returns. The matrix
 * does the same and passes the warning on. Leading zeros (in the address or the prefix length) and
 * IPv4-mapped IPv6 addresses, which v1.34 also still accepts with a warning, are refused: see parseIp.
 */
export function parseCidr(s: string): ParsedCidr | { error: string } {
  const example = 'a CIDR: an IP address, "/" and a prefix length (e.g. 10.244.2.0/24 or fd00::/64)';
  const slash = s.indexOf('/');
  if (slash < 0 || slash !== s.lastIndexOf('/'))
    return { error: `${example}; a single address is written with /32 (IPv4) or /128 (IPv6)` };
  const ip = parseIp(s.slice(0, slash));
  if ('error' in ip) return { error: /leading zeros|IPv4-mapped/.test(ip.error) ? ip.error : example };
  const len = s.slice(slash + 1);
  if (!/^\d+$/.test(len)) return { error: example };
  if (len.length > 1 && len.startsWith('0'))
    return { error: `${example}, without leading zeros in the prefix length` };
  const prefix = Number(len);
  if (prefix > ip.bits)
    return {
      error: `${example}, with a prefix length of at most ${ip.bits} for an IPv${ip.bits === 32 ? 4 : 6} address`,
    };
  const host = (1n << BigInt(ip.bits - prefix)) - 1n;
  const network = ip.value & ~host & ((1n << BigInt(ip.bits)) - 1n);
  return {
    network,
    prefix,
    bits: ip.bits,
    hostBitsSet: network !== ip.value,
    canonical: `${formatIp(network, ip.bits)}/${prefix}`,
  };
}

/**
 * ValidateIPBlock (kubernetes/kubernetes pkg/apis/networking/validation/validation.go): each
 * `except` entry must lie strictly inside `cidr`: the cidr contains its network address and its prefix
 * is longer. Different address families never contain each other.
 */
export function strictlyInside(inner: ParsedCidr, outer: ParsedCidr): boolean {
  if (inner.bits !== outer.bits || inner.prefix <= outer.prefix) return false;
  const host = (1n << BigInt(outer.bits - outer.prefix)) - 1n;
  return (inner.network & ~host) === outer.network;
}
