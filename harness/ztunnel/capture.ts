/**
 * tcpdump -nn -A -l output (4.99, `-i any`: "<time> <iface> <In|Out> IP a.b.c.d.port > …: Flags …,
 * length N", then the payload as ASCII). MTLS-03 reads which ports two pods used and whether a
 * marker sent in a request crossed the wire in clear.
 */
export interface Packet {
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  length: number;
  payload: string;
}

const HEADER =
  /^\d{2}:\d{2}:\d{2}\.\d+\s+(?:\S+\s+(?:In|Out|M|P|B)\s+)?IP6?\s+(\S+)\.(\d+)\s+>\s+(\S+)\.(\d+):.*length (\d+)/;

export function parseTcpdump(text: string): Packet[] {
  const packets: Packet[] = [];
  let cur: Packet | undefined;
  for (const line of text.split('\n')) {
    const m = HEADER.exec(line);
    if (m) {
      if (cur) packets.push(cur);
      cur = {
        src: m[1] ?? '',
        srcPort: Number(m[2]),
        dst: m[3] ?? '',
        dstPort: Number(m[4]),
        length: Number(m[5]),
        payload: '',
      };
    } else if (cur) {
      cur.payload += `${line}\n`;
    }
  }
  if (cur) packets.push(cur);
  return packets;
}

export interface CaptureVerdict {
  /** Server-side ports seen between the two pods. */
  serverPorts: number[];
  markerSeen: boolean;
  packets: number;
}

export function judgeCapture(
  packets: Packet[],
  clientIp: string,
  serverIp: string,
  marker: string,
): CaptureVerdict {
  const between = packets.filter(
    (p) => (p.src === clientIp && p.dst === serverIp) || (p.src === serverIp && p.dst === clientIp),
  );
  const ports = new Set(between.map((p) => (p.dst === serverIp ? p.dstPort : p.srcPort)));
  // tcpdump -A wraps long payloads; join lines before searching.
  const markerSeen = between.some((p) => p.payload.replace(/\n/g, '').includes(marker));
  return { serverPorts: [...ports].sort((a, b) => a - b), markerSeen, packets: between.length };
}
