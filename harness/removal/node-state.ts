/**
 * What istio-cni leaves on a node, read through `docker exec <kind node>`:
 * - /etc/cni/net.d: in chained mode (the default) the agent appends a plugin {"type":"istio-cni"}
 *   to the primary conflist (10-kindnet.conflist on kind); with istioOwnedCNIConfig it writes
 *   02-istio-cni.conflist. Both must be gone after removal (cni/pkg/install).
 * - host rules: the ISTIO_POSTRT chain (nat) for the kubelet-probe SNAT, and the ipsets
 *   istio-inpod-probes-v4/-v6 (cni/pkg/iptables/iptables.go, cni/pkg/ipset); with native
 *   nftables, the tables istio-ambient-nat/-mangle/-raw (cni/pkg/nftables/nftables.go).
 */

export const NET_D_DUMP =
  'for f in /etc/cni/net.d/*; do [ -f "$f" ] && { echo "==> $f <=="; cat "$f"; echo; }; done; true';
/**
 * Every rule reader a kind node has, each in a section of its own. istio-cni writes IPv4 and, with
 * `ambient.ipv6` (default true), IPv6 rules, through whichever iptables backend it detected
 * (legacy or nft) or native nftables (cni/pkg/iptables, cni/pkg/nftables at istio 1.28.3), so both
 * backends of both families and nft are read. kind v0.30.0's node image installs iptables and
 * nftables (images/base/Dockerfile) but no ipset binary: the ipsets are read from a pod
 * (IPSET_LIST). A reader that is missing or fails is reported as such, never as "no rules".
 */
export const RULE_READERS = [
  'iptables-legacy-save',
  'iptables-nft-save',
  'ip6tables-legacy-save',
  'ip6tables-nft-save',
] as const;

export const RULES_DUMP = [
  ...RULE_READERS.map(
    (t) =>
      `if command -v ${t} >/dev/null 2>&1; then echo '==> ${t} <=='; ${t} 2>&1 || echo "==> ${t} failed: exit $? <=="; else echo '==> ${t}: not installed <=='; fi`,
  ),
  `if command -v nft >/dev/null 2>&1; then echo '==> nft <=='; nft list ruleset 2>&1 || echo "==> nft failed: exit $? <=="; else echo '==> nft: not installed <=='; fi`,
  'true',
].join('; ');

/** `ipset list -n`, run in a host-network pod that ships ipset (the pinned netshoot image). */
export const IPSET_LIST = `echo '==> ipset <=='; ipset list -n 2>&1 || echo "==> ipset failed: exit $? <=="`;

export interface RuleSection {
  reader: string;
  status: 'ok' | 'missing' | 'failed';
  detail?: string;
  content: string;
}

/** Splits RULES_DUMP / IPSET_LIST output into one section per reader. */
export function parseRuleSections(text: string): RuleSection[] {
  const out: RuleSection[] = [];
  let cur: RuleSection | undefined;
  for (const line of text.split('\n')) {
    const missing = /^==> (\S+): not installed <==$/.exec(line);
    const failed = /^==> (\S+) failed: (.*) <==$/.exec(line);
    const header = /^==> (\S+) <==$/.exec(line);
    if (missing) {
      out.push({ reader: missing[1] ?? '', status: 'missing', content: '' });
      cur = undefined;
    } else if (failed) {
      const s = out.find((x) => x.reader === failed[1]);
      if (s) {
        s.status = 'failed';
        s.detail = `${failed[2] ?? ''}: ${s.content.trim().split('\n').slice(-1)[0] ?? ''}`;
      }
      cur = undefined;
    } else if (header) {
      cur = { reader: header[1] ?? '', status: 'ok', content: '' };
      out.push(cur);
    } else if (cur) cur.content += `${line}\n`;
  }
  return out;
}

/** What a node still holds of Istio, and what could not be read (so "clean" cannot be claimed). */
export interface NodeRulesVerdict {
  leftovers: string[];
  inconclusive: string[];
}

/**
 * Istio host rules in the sections: ISTIO_* chains or rules jumping to them or matching istio
 * ipsets (iptables, either backend, either family), nftables tables or chains named istio*
 * (istio-ambient-nat/-mangle/-raw), ipsets istio-* (istio-inpod-probes-v4/-v6). Every reader in
 * `required` that is absent or failed makes the verdict inconclusive, with why.
 */
export function judgeNodeRules(
  sections: RuleSection[],
  required: readonly string[] = [...RULE_READERS, 'nft', 'ipset'],
): NodeRulesVerdict {
  const found = new Set<string>();
  const inconclusive: string[] = [];
  for (const r of required) {
    const s = sections.find((x) => x.reader === r);
    if (!s) inconclusive.push(`${r}: not read`);
    else if (s.status === 'missing') inconclusive.push(`${r}: not installed on the node`);
    else if (s.status === 'failed') inconclusive.push(`${r}: failed (${s.detail ?? ''})`);
  }
  for (const s of sections) {
    if (s.status !== 'ok') continue;
    if (s.reader.includes('tables-')) {
      for (const line of s.content.split('\n')) {
        const chain = /^:(ISTIO_\S+)/.exec(line);
        if (chain) found.add(`${s.reader}: chain ${chain[1] ?? ''}`);
        else if (/-j ISTIO_|--match-set istio-/.test(line)) found.add(`${s.reader}: rule ${line.trim()}`);
      }
    } else if (s.reader === 'nft') {
      for (const line of s.content.split('\n')) {
        const m = /^\s*(table|chain)\s+(?:\S+\s+)?(\S*istio\S*)\s*\{/i.exec(line);
        if (m) found.add(`nftables ${m[1] ?? ''} ${m[2] ?? ''}`);
      }
    } else if (s.reader === 'ipset') {
      for (const line of s.content.split('\n'))
        if (/^istio-/.test(line.trim())) found.add(`ipset ${line.trim()}`);
    }
  }
  return { leftovers: [...found], inconclusive };
}

export interface CniFile {
  path: string;
  content: string;
}

export function splitDump(text: string): CniFile[] {
  const out: CniFile[] = [];
  let cur: CniFile | undefined;
  for (const line of text.split('\n')) {
    const m = /^==> (.+) <==$/.exec(line);
    if (m) {
      if (cur) out.push(cur);
      cur = { path: m[1] ?? '', content: '' };
    } else if (cur) cur.content += `${line}\n`;
  }
  if (cur) out.push(cur);
  return out;
}

/** Istio entries in the CNI config folder: an istio-cni plugin in any conflist, or Istio's own file. */
export function istioCniLeftovers(files: CniFile[]): string[] {
  const found: string[] = [];
  for (const f of files) {
    if (/istio-cni/.test(f.path)) {
      found.push(`${f.path} (istio-owned CNI config)`);
      continue;
    }
    if (!/\.conf(list)?$/.test(f.path)) continue;
    try {
      const j = JSON.parse(f.content) as { plugins?: { type?: string }[]; type?: string };
      const plugins = j.plugins ?? [j];
      if (plugins.some((p) => p.type === 'istio-cni'))
        found.push(`${f.path}: plugin "istio-cni" still chained`);
    } catch {
      if (f.content.includes('"istio-cni"')) found.push(`${f.path}: mentions istio-cni (not valid JSON)`);
    }
  }
  return found;
}
