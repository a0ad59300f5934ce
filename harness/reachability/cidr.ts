import net from 'node:net';

/** CIDR containment for IPv4 and IPv6, as NetworkPolicy ipBlock needs it. */

function toBigInt(ip: string): { value: bigint; bits: number } | undefined {
  if (net.isIPv4(ip)) {
    const n = ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
    return { value: n, bits: 32 };
  }
  if (net.isIPv6(ip)) {
    let s = ip;
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
    if (v4) {
      const n = toBigInt(v4[1] ?? '')?.value ?? 0n;
      s = s.replace(v4[1] ?? '', `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`);
    }
    const [head, tail] = s.split('::');
    const h = head ? head.split(':') : [];
    const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    const value = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
    return { value, bits: 128 };
  }
  return undefined;
}

export function parseCidr(cidr: string): { base: bigint; prefix: number; bits: number } | undefined {
  const [addr, len] = cidr.split('/');
  const ip = toBigInt(addr ?? '');
  const prefix = Number(len);
  if (!ip || len === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > ip.bits)
    return undefined;
  const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(ip.bits - prefix);
  return { base: ip.value & mask, prefix, bits: ip.bits };
}

export function cidrContains(cidr: string, ip: string): boolean {
  const c = parseCidr(cidr);
  const a = toBigInt(ip);
  if (!c || !a || c.bits !== a.bits) return false;
  const mask = c.prefix === 0 ? 0n : ((1n << BigInt(c.prefix)) - 1n) << BigInt(c.bits - c.prefix);
  return (a.value & mask) === c.base;
}
