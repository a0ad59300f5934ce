import type http from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  EXEC_PROTOCOLS,
  execStatus,
  PORTFORWARD_PROTOCOLS,
  portPrefix,
  wsFrame as frame,
} from '../twin/pods.ts';

/**
 * The API server's WebSocket endpoints as @kubernetes/client-node 2.x uses them, for contract
 * tests now and the simulated cluster later:
 * - exec: `GET /api/v1/namespaces/{ns}/pods/{pod}/exec?command=…&stdout=true&stderr=true`, with
 *   subprotocol v5.channel.k8s.io (or v4); every frame is one channel byte and data: 1 stdout,
 *   2 stderr, 3 status (a metav1.Status as JSON: Success, or Failure with reason NonZeroExitCode
 *   and details.causes [{reason: ExitCode, message: "<code>"}]) (kubernetes
 *   staging/src/k8s.io/apimachinery/pkg/util/remotecommand, client-node web-socket-handler.js).
 * - port-forward: `GET /api/v1/namespaces/{ns}/pods/{pod}/portforward?ports=N`, same
 *   subprotocols; for the i-th port a data channel 2i and an error channel 2i+1, and the first
 *   frame on each channel carries the port as 2 bytes little-endian (client-node portforward.js
 *   strips them). Not the SPDY portforward.k8s.io protocol.
 */

export interface ExecReply {
  stdout?: string;
  stderr?: string;
  exitCode?: number;
  /** Never answer: the command hangs until the client goes away. */
  hang?: boolean;
}

export interface PortForwardReply {
  /** The in-pod connection fails: this text goes to the error channel. */
  error?: string;
  /** Answers an HTTP request sent through the forward. */
  http?: (request: string) => { status: number; body: string };
}

export interface WsHandlers {
  exec?: (req: { namespace: string; pod: string; container: string; command: string[] }) => ExecReply;
  portForward?: (req: { namespace: string; pod: string; port: number }) => PortForwardReply;
}

export interface WsApi {
  /** WebSockets currently open, by kind. */
  open: { exec: Set<WebSocket>; portForward: Set<WebSocket> };
  close(): void;
}

// The subprotocols as the servers offer them, the frames and the exec status are the twin's pod
// runtime's (test/twin/pods.ts), so the two cannot drift apart.

/** Serves exec and port-forward upgrades on an existing HTTP server. */
export function attachWebSocketApi(http: http.Server, handlers: WsHandlers): WsApi {
  const open = { exec: new Set<WebSocket>(), portForward: new Set<WebSocket>() };
  const server = (protocols: string[]) =>
    new WebSocketServer({
      noServer: true,
      handleProtocols: (offered) => protocols.find((p) => offered.has(p)) ?? false,
    });
  const execWss = server(EXEC_PROTOCOLS);
  const forwardWss = server(PORTFORWARD_PROTOCOLS);
  http.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(exec|portforward)$/.exec(url.pathname);
    if (!m) {
      socket.destroy();
      return;
    }
    const [, namespace = '', pod = '', kind] = m;
    (kind === 'exec' ? execWss : forwardWss).handleUpgrade(req, socket, head, (ws) => {
      if (kind === 'exec') {
        open.exec.add(ws);
        ws.on('close', () => open.exec.delete(ws));
        const reply = handlers.exec?.({
          namespace,
          pod,
          container: url.searchParams.get('container') ?? '',
          command: url.searchParams.getAll('command'),
        }) ?? { exitCode: 0 };
        if (reply.hang) return;
        if (reply.stdout) ws.send(frame(1, reply.stdout));
        if (reply.stderr) ws.send(frame(2, reply.stderr));
        ws.send(
          frame(3, JSON.stringify(execStatus(reply.exitCode ?? 0, url.searchParams.getAll('command')))),
        );
        ws.close();
        return;
      }
      open.portForward.add(ws);
      ws.on('close', () => open.portForward.delete(ws));
      const port = Number(url.searchParams.get('ports'));
      ws.send(frame(0, portPrefix(port)));
      ws.send(frame(1, portPrefix(port)));
      const reply = handlers.portForward?.({ namespace, pod, port }) ?? {};
      // The kubelet dials the pod port as soon as the streams exist; a failure goes to the error
      // channel and both streams close.
      if (reply.error !== undefined) {
        ws.send(frame(1, reply.error));
        ws.close();
        return;
      }
      let request = '';
      ws.on('message', (data: Buffer) => {
        if (data[0] !== 0) return;
        request += data.subarray(1).toString('utf8');
        if (!request.includes('\r\n\r\n') || !reply.http) return;
        const r = reply.http(request);
        ws.send(
          frame(
            0,
            `HTTP/1.1 ${r.status} X\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(r.body)}\r\nconnection: close\r\n\r\n${r.body}`,
          ),
        );
      });
    });
  });
  return {
    open,
    close: () => {
      for (const ws of [...open.exec, ...open.portForward]) ws.terminate();
      execWss.close();
      forwardWss.close();
    },
  };
}
