import type { Decision } from './dataplane.ts';

/**
 * What the twin's dataplane did, one record per TCP connection an in-pod client opened (the twin's
 * curl). The records are the twin's single source for everything a cluster shows about traffic:
 * ztunnel's access log lines and metrics counters (ztunnel.ts), packet captures (the twin's tcpdump)
 * and the servers' answers. Nothing else about traffic is invented elsewhere.
 */

/** One side of a connection: the pod that owns the address, when one does. */
export interface Endpoint {
  ip: string;
  port: number;
  /** The pod whose IP this is (absent when no pod has the IP). */
  pod?: {
    namespace: string;
    name: string;
    uid: string;
    node: string;
    serviceAccount: string;
    /** Annotated ambient.istio.io/redirection=enabled when the connection was made. */
    enrolled: boolean;
  };
}

export interface ConnectionRecord {
  /** Increasing from 1 in the order connections were opened. */
  id: number;
  /** When the client connected (twin clock). */
  start: Date;
  /** When the connection ended: start + decision.seconds (never waited for on the wall clock). */
  end: Date;
  /** The client pod; port is the client's ephemeral port. */
  src: Endpoint;
  /** The address the client dialled (the app port, never 15008 for the twin's curl). */
  dst: Endpoint;
  decision: Decision;
  /** The HTTP request line and headers curl sent, when the connection got that far (for captures). */
  request?: string;
  /** The HTTP response the server sent (status line, headers, body), when it answered. */
  response?: string;
  /** Bytes the client sent and received over the connection (as ztunnel counts them). */
  bytesSent: number;
  bytesReceived: number;
}

export type TrafficListener = (r: ConnectionRecord) => void;

/** The twin's connection log: appended by the in-pod curl, read by ztunnel's logs and metrics and by tcpdump. */
export class Traffic {
  private readonly list: ConnectionRecord[] = [];
  private readonly listeners = new Set<TrafficListener>();
  private nextId = 1;
  private nextPort = 40000;

  /** Records a connection; assigns its id and, when src.port is 0, an ephemeral client port. */
  add(r: Omit<ConnectionRecord, 'id'>): ConnectionRecord {
    const port = r.src.port === 0 ? this.ephemeralPort() : r.src.port;
    const rec: ConnectionRecord = { ...r, id: this.nextId++, src: { ...r.src, port } };
    this.list.push(rec);
    for (const l of this.listeners) l(rec);
    return rec;
  }

  /** Linux's default ip_local_port_range is 32768-60999; the twin hands them out in turn. */
  ephemeralPort(): number {
    const p = this.nextPort++;
    if (this.nextPort > 60999) this.nextPort = 32768;
    return p;
  }

  /** Every record so far, oldest first (a copy). */
  records(): ConnectionRecord[] {
    return [...this.list];
  }

  /** Records that ended at or after `since`. */
  since(since: Date): ConnectionRecord[] {
    return this.list.filter((r) => r.end.getTime() >= since.getTime());
  }

  /** Calls `l` for every record added from now on; returns the unsubscribe function. */
  onRecord(l: TrafficListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}
