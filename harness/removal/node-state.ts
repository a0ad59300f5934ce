/**
 * What istio-cni leaves on a node, read through `docker exec <kind node>`:
 * - /etc/cni/net.d: in chained mode (the default) the agent appends a plugin {"type":"istio-cni"}
 *   to the primary conflist (10-kindnet.conflist on kind); with istioOwnedCNIConfig it writes
 *   02-istio-cni.conflist. Both must be gone after removal (cni/pkg/install).
 * - host rules: the ISTIO_POSTRT chain (nat) for the kubelet-probe SNAT, and the ipsets
 *   istio-inpod-probes-v4/-v6; with native nftables, an istio table.
 */

export const NET_D_DUMP =
  'for f in /etc/cni/net.d/*; do [ -f "$f" ] && { echo "==> $f <=="; cat "$f"; echo; }; done; true';
export const RULES_DUMP =
  '(iptables-save 2>/dev/null || true); echo "==> nft <=="; (nft list ruleset 2>/dev/null || true); echo "==> ipset <=="; (ipset list -n 2>/dev/null || true)';

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

/** Istio host rules: ISTIO_* iptables chains, an nftables table or chain named istio*, istio ipsets. */
export function istioRuleLeftovers(dump: string): string[] {
  const [ipt = '', rest = ''] = dump.split('==> nft <==');
  const [nft = '', ipset = ''] = rest.split('==> ipset <==');
  const found = new Set<string>();
  for (const line of ipt.split('\n')) {
    const chain = /^:(ISTIO_\S+)/.exec(line);
    if (chain) found.add(`iptables chain ${chain[1] ?? ''}`);
    else if (/-j ISTIO_|--match-set istio-/.test(line)) found.add(`iptables rule: ${line.trim()}`);
  }
  for (const line of nft.split('\n')) {
    const m = /^\s*(table|chain)\s+(?:\S+\s+)?(\S*istio\S*)\s*\{/i.exec(line);
    if (m) found.add(`nftables ${m[1] ?? ''} ${m[2] ?? ''}`);
  }
  for (const line of ipset.split('\n')) if (/^istio-/.test(line.trim())) found.add(`ipset ${line.trim()}`);
  return [...found];
}
