import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { badRequest, goQuote, notFound, type KubeObject, type Status, type TwinStore } from './apiserver.ts';
import { decide, isEnrolled, type Decision, type TwinObjects } from './dataplane.ts';
import type { ConnectionRecord, Endpoint, Traffic } from './traffic.ts';
import { ztunnelNodes } from './ztunnel.ts';

/**
 * The twin's container runtime for `pods/exec` and `pods/portforward`: what the API server, the
 * kubelet and containerd do when the harness runs a command in a pod or forwards a pod port, over
 * the WebSocket protocols @kubernetes/client-node 2.x speaks (section 1 below).
 *
 *   attachPodRuntime({ server, store, traffic, portForward?, podApp?, clock?, scratchRoot?, rootNamespace? })
 *     → { close(): Promise<void>, scratchRoot, tag, sandboxDir(namespace, name) }
 *   twinObjects(store, rootNamespace?) → TwinObjects   (the dataplane's view of the store)
 *
 * Exec runs real processes on this machine, one scratch directory per pod (`<root>/<ns>_<name>_<uid8>`
 * with `bin/` and `tmp/`), created on the pod's first exec and removed when the pod leaves the store
 * or the runtime closes. argv[0] is looked up on the pod's PATH (`<pod>/bin:/usr/bin:/bin`), so the
 * pod's stand-in tools shadow the host's:
 *
 * - `curl` and `ipset`: bash scripts that send their argv to the runtime's loopback HTTP endpoint
 *   (through bash's /dev/tcp, no other process) and print what the runtime answers. The runtime
 *   emulates curl 7.88.1 (section 5) on top of `decide()` (dataplane.ts) and agnhost netexec
 *   (section 6), and records every connection in `traffic`; ipset answers `ipset list -n` (section 7).
 * - `tcpdump`: a bash wrapper that execs a small node program, because the harness stops it with
 *   `kill -INT` while it runs as a background job of a non-interactive sh, which starts it with
 *   SIGINT ignored (a shell trap cannot undo that; node resets inherited SIG_IGN at startup and can).
 *   It registers a capture and, on SIGINT, prints the traffic records' packets as tcpdump 4.99 -nn -A
 *   would (section 8).
 *
 * Out of scope: TTYs and resize, stdin beyond a plain pipe, attach, ephemeral containers, the
 * container's own filesystem (the pod sees this machine's, except /tmp in `sh -c` scripts), curl's
 * progress meter (the harness always passes -s), HTTPS, DNS names (curl exits 6), Services.
 */

// Wire JSON walked loosely, as in controllers.ts.
type J = any;

// ---------------------------------------------------------------------------------------------------------
// 1. The WebSocket channel protocols (shared with test/helpers/fake-ws.ts)
// ---------------------------------------------------------------------------------------------------------

/**
 * exec is served by the API server's stream translator (WebSocket v5 to the kubelet's SPDY,
 * kubernetes/apiserver@v0.34.0 pkg/util/proxy/streamtranslator.go, feature
 * TranslateStreamCloseWebsocketRequests) or, for v4 clients, proxied to the kubelet. Every frame is
 * one channel byte and data: 0 stdin, 1 stdout, 2 stderr, 3 status (metav1.Status JSON), 255 close
 * (v5). client-node offers v5 first (web-socket-handler.js).
 */
export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
/**
 * The kubelet's (containerd's vendored k8s.io/kubelet v0.32.3) WebSocket port-forward speaks
 * v4.channel.k8s.io, v4.base64 and "" only (pkg/cri/streaming/portforward/websocket.go): for the
 * i-th port a data channel 2i and an error channel 2i+1, each opened by the port as 2 bytes little
 * endian.
 */
export const PORTFORWARD_PROTOCOLS = ['v4.channel.k8s.io'];

/** One WebSocket frame of the channel protocols: the channel byte, then the data. */
export function wsFrame(channel: number, data: Buffer | string): Buffer {
  return Buffer.concat([Buffer.from([channel]), Buffer.isBuffer(data) ? data : Buffer.from(data)]);
}

/** The first frame of every port-forward channel: the port, 2 bytes little endian. */
export function portPrefix(port: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(port, 0);
  return b;
}

/**
 * The exec status (channel 3) for an exit code: Success, or Failure with reason NonZeroExitCode and
 * the code as the ExitCode cause (apiserver streamtranslator.go codeExitToStatusError;
 * metav1.StatusCause's Type is serialized as "reason"). client-node's exec callback receives it.
 */
export function execStatus(exitCode: number, command: string[]): object {
  return exitCode === 0
    ? { metadata: {}, status: 'Success' }
    : {
        metadata: {},
        status: 'Failure',
        message: `command terminated with non-zero exit code: error executing command [${command.join(' ')}], exit code ${exitCode}`,
        reason: 'NonZeroExitCode',
        details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
      };
}

// ---------------------------------------------------------------------------------------------------------
// 2. API
// ---------------------------------------------------------------------------------------------------------

/** An HTTP request that reached a pod port through a port-forward. */
export interface PortRequest {
  method: string;
  /** Path and query, as on the request line. */
  path: string;
  /** Header names lower-cased. */
  headers: Record<string, string>;
}

export interface PortResponse {
  status: number;
  /** Written as given, in order; content-length is added when missing. */
  headers?: Record<string, string>;
  body: string;
}

/** Something listening on a pod port (what a port-forward reaches). */
export interface PortTarget {
  http(req: PortRequest): PortResponse;
}

export interface PodRuntimeOptions {
  /** The API server whose `upgrade` events are served (startTwinApiServer's `server`). */
  server: http.Server;
  store: TwinStore;
  /** Where the in-pod curl records its connections. */
  traffic: Traffic;
  /**
   * What listens on `port` inside `pod` for a port-forward (which dials localhost in the pod's
   * netns). undefined: nothing listens, and the kubelet's "connection refused" goes to the error
   * channel. Default: nothing listens anywhere.
   */
  portForward?: (pod: KubeObject, port: number) => PortTarget | undefined;
  /**
   * HTTP servers on pod IPs other than agnhost netexec (which the runtime knows), for the in-pod
   * curl. undefined: the twin has no model of the app and curl reports an empty reply (exit 52).
   */
  podApp?: (pod: KubeObject, port: number) => PortTarget | undefined;
  /** The twin's clock, for connection records and capture timestamps (default new Date()). */
  clock?: () => Date;
  /** Where pod scratch directories go (default: a new directory under the OS temp dir, removed at close). */
  scratchRoot?: string;
  /** meshConfig.rootNamespace (default istio-system, the Helm charts' value). */
  rootNamespace?: string;
}

export interface PodRuntime {
  /** Kills every process the runtime started, closes its endpoint, removes the pod directories. */
  close(): Promise<void>;
  /** Parent of the pod directories. */
  scratchRoot: string;
  /** In the environment of every process the runtime starts (see runtimeProcesses). */
  tag: string;
  /** The pod's scratch directory, if it has one (created by its first exec). */
  sandboxDir(namespace: string, name: string): string | undefined;
}

const POD = { group: '', resource: 'pods' };
const PODS_GR = { group: '', resource: 'pods' };

/** The objects the dataplane reads, from the store (cached per resourceVersion). */
export function twinObjects(store: TwinStore, rootNamespace = 'istio-system'): TwinObjects {
  const list = (group: string, resource: string): J[] =>
    store.registry.lookup({ group, resource }) ? store.list({ group, resource }) : [];
  const pods = list('', 'pods');
  return {
    namespaces: list('', 'namespaces'),
    pods,
    ztunnelNodes: ztunnelNodes(pods, rootNamespace),
    networkPolicies: list('networking.k8s.io', 'networkpolicies'),
    peerAuthentications: list('security.istio.io', 'peerauthentications'),
    authorizationPolicies: list('security.istio.io', 'authorizationpolicies'),
    rootNamespace,
  };
}

/**
 * Starts the runtime: an `upgrade` listener on `opts.server` for
 * `/api/v1/namespaces/{ns}/pods/{name}/exec` and `/portforward`, and a loopback endpoint for the
 * stand-in tools (which the first exec waits for).
 */
export function attachPodRuntime(opts: PodRuntimeOptions): PodRuntime {
  const rt = new Runtime(opts);
  rt.start();
  return {
    close: () => rt.close(),
    scratchRoot: rt.root,
    tag: rt.tag,
    sandboxDir: (namespace, name) => rt.sandboxOf(namespace, name)?.dir,
  };
}

// ---------------------------------------------------------------------------------------------------------
// 3. The runtime: pod sandboxes, processes, the tools' endpoint, upgrades
// ---------------------------------------------------------------------------------------------------------

interface Sandbox {
  namespace: string;
  name: string;
  uid: string;
  dir: string;
  /** Written once: the stand-in tools and tmp/. */
  ready: Promise<void>;
}

interface CaptureSession {
  pod: { namespace: string; name: string; uid: string };
  hosts: string[];
  started: Date;
  iface: string;
}

/** What a stand-in tool prints and exits with. */
export interface ToolResult {
  exit: number;
  stdout: string;
  stderr: string;
}

/** A tag in every started process's environment, so close() and pod deletion find them all. */
const TAG_VAR = 'TWIN_POD_RUNTIME';

class Runtime {
  readonly opts: PodRuntimeOptions;
  readonly clock: () => Date;
  readonly root: string;
  private readonly ownRoot: boolean;
  readonly tag = randomBytes(6).toString('hex');
  private readonly token = randomBytes(12).toString('hex');
  private readonly endpointServer: http.Server;
  port = 0;
  private readonly sandboxes = new Map<string, Sandbox>();
  private readonly children = new Set<ChildProcess>();
  private readonly sockets = new Set<WebSocket>();
  private readonly captures = new Map<string, CaptureSession>();
  private nextCapture = 1;
  private readonly execWss: WebSocketServer;
  private readonly forwardWss: WebSocketServer;
  private readonly onUpgrade: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
  private stopWatch: () => void = () => undefined;
  private objectsCache?: { rv: string; objects: TwinObjects };
  private closed = false;

  constructor(opts: PodRuntimeOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? (() => new Date());
    this.ownRoot = opts.scratchRoot === undefined;
    this.root = opts.scratchRoot ?? fs.mkdtempSync(path.join(os.tmpdir(), 'twin-pods-'));
    fs.mkdirSync(this.root, { recursive: true });
    this.endpointServer = http.createServer((req, res) => this.serveTool(req, res));
    const wss = (protocols: string[]) =>
      new WebSocketServer({
        noServer: true,
        handleProtocols: (offered) => protocols.find((p) => offered.has(p)) ?? false,
      });
    this.execWss = wss(EXEC_PROTOCOLS);
    this.forwardWss = wss(PORTFORWARD_PROTOCOLS);
    this.onUpgrade = (req, socket, head) => this.upgrade(req, socket, head);
  }

  /** The node side of the stand-in tcpdump (one per runtime: runtimes may share a scratch root). */
  private get tcpdumpProgram(): string {
    return path.join(this.root, `tcpdump-${this.tag}.cjs`);
  }

  /** Resolves once the tools' endpoint listens (its port goes into the stand-ins). */
  private listening: Promise<void> = Promise.resolve();

  start(): void {
    this.listening = new Promise<void>((resolve) =>
      this.endpointServer.listen(0, '127.0.0.1', () => {
        this.port = (this.endpointServer.address() as AddressInfo).port;
        resolve();
      }),
    );
    fs.writeFileSync(this.tcpdumpProgram, TCPDUMP_PROGRAM, { mode: 0o755 });
    this.opts.server.on('upgrade', this.onUpgrade);
    // A deleted pod's processes and directory go with it (the kubelet tears the sandbox down).
    this.stopWatch = this.opts.store.watch(
      (e) => {
        if (e.type === 'DELETED') void this.removeSandbox(e.object.metadata.uid ?? '');
      },
      { resource: POD },
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopWatch();
    this.opts.server.off('upgrade', this.onUpgrade);
    for (const ws of this.sockets) ws.terminate();
    this.execWss.close();
    this.forwardWss.close();
    await killTagged(`${this.tag}/`);
    for (const c of this.children) c.kill('SIGKILL');
    await this.listening;
    await new Promise<void>((resolve) => {
      this.endpointServer.close(() => resolve());
      this.endpointServer.closeAllConnections();
    });
    for (const sb of this.sandboxes.values()) fs.rmSync(sb.dir, { recursive: true, force: true });
    this.sandboxes.clear();
    if (this.ownRoot) fs.rmSync(this.root, { recursive: true, force: true });
    else fs.rmSync(this.tcpdumpProgram, { force: true });
  }

  objects(): TwinObjects {
    const rv = this.opts.store.resourceVersion;
    if (this.objectsCache?.rv !== rv)
      this.objectsCache = { rv, objects: twinObjects(this.opts.store, this.opts.rootNamespace) };
    return this.objectsCache.objects;
  }

  sandboxOf(namespace: string, name: string): Sandbox | undefined {
    return [...this.sandboxes.values()].find((s) => s.namespace === namespace && s.name === name);
  }

  /** The pod's scratch directory with its stand-in tools, created on first use. */
  private sandbox(pod: J): Sandbox {
    const uid: string = pod.metadata.uid;
    const have = this.sandboxes.get(uid);
    if (have) return have;
    const namespace: string = pod.metadata.namespace;
    const name: string = pod.metadata.name;
    const dir = path.join(this.root, `${namespace}_${name}_${uid.slice(0, 8)}`);
    const sb: Sandbox = {
      namespace,
      name,
      uid,
      dir,
      ready: (async () => {
        await this.listening;
        await fs.promises.mkdir(path.join(dir, 'bin'), { recursive: true });
        await fs.promises.mkdir(path.join(dir, 'tmp'), { recursive: true });
        const podKey = `${namespace}/${name}/${uid}`;
        const tools: [string, string][] = [
          ['curl', shimScript('curl', this.port, this.token, podKey)],
          ['ipset', shimScript('ipset', this.port, this.token, podKey)],
          ['tcpdump', tcpdumpWrapper(this.port, this.token, podKey, this.tcpdumpProgram)],
        ];
        for (const [tool, text] of tools)
          await fs.promises.writeFile(path.join(dir, 'bin', tool), text, { mode: 0o755 });
      })(),
    };
    this.sandboxes.set(uid, sb);
    return sb;
  }

  private async removeSandbox(uid: string): Promise<void> {
    const sb = this.sandboxes.get(uid);
    if (!sb) return;
    this.sandboxes.delete(uid);
    await killTagged(`${this.tag}/${uid}`);
    await sb.ready.catch(() => undefined);
    await fs.promises.rm(sb.dir, { recursive: true, force: true });
  }

  // ---- upgrades: exec and port-forward ----

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://twin');
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(exec|portforward)$/.exec(url.pathname);
    if (!m) {
      // Another part of the twin may serve other upgrades; alone, answer as the API server would.
      if (this.opts.server.listenerCount('upgrade') === 1)
        refuse(socket, 404, statusJson(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    const namespace = decodeURIComponent(m[1] ?? '');
    const name = decodeURIComponent(m[2] ?? '');
    const pod = this.opts.store.get<J>(POD, { namespace, name });
    // kubernetes@v1.34 pkg/registry/core/pod/strategy.go getPod: the pod's 404 comes before anything else.
    if (!pod) return refuse(socket, 404, apiStatus(notFound(PODS_GR, name).status));
    try {
      if (m[3] === 'exec') this.exec(req, socket, head, url, pod);
      else this.portForwardUpgrade(req, socket, head, url, pod);
    } catch (e) {
      refuse(
        socket,
        500,
        statusJson(500, 'InternalError', `twin: ${e instanceof Error ? e.message : String(e)}`),
      );
    }
  }

  /**
   * `GET …/exec?command=…&container=…&stdout=true&stderr=true`. The API server first resolves the
   * container and the node (kubernetes@v1.34 pkg/registry/core/pod/strategy.go streamLocation,
   * validateContainer); then the kubelet looks the container up among the running ones
   * (pkg/kubelet/kubelet_pods.go GetExec: `container not found (%q)`).
   */
  private exec(req: http.IncomingMessage, socket: Duplex, head: Buffer, url: URL, pod: J): void {
    const command = url.searchParams.getAll('command');
    const containers: J[] = pod.spec?.containers ?? [];
    // podutil.VisitContainers order: init containers, then containers.
    const all = [...(pod.spec?.initContainers ?? []), ...containers].map((c: J) => c.name as string);
    let container = url.searchParams.get('container') ?? '';
    const podName: string = pod.metadata.name;
    const bad = (message: string) => refuse(socket, 400, apiStatus(badRequest(message).status));
    if (!container) {
      if (containers.length === 1) container = containers[0].name;
      else if (containers.length === 0) return bad(`a container name must be specified for pod ${podName}`);
      else
        return bad(
          `a container name must be specified for pod ${podName}, choose one of: [${all.join(' ')}]`,
        );
    } else if (!all.includes(container)) return bad(`container ${container} is not valid for pod ${podName}`);
    if (!pod.spec?.nodeName) return bad(`pod ${podName} does not have a host assigned`);

    const running = containerRunning(pod, container);
    const offered = offeredProtocols(req);
    const translated = offered.includes('v5.channel.k8s.io');
    if (!running && !translated) {
      // No v5: the API server proxies the upgrade to the kubelet, which answers before upgrading
      // (streaming.WriteError: 500 with the error text, k8s.io/kubelet pkg/cri/streaming/errors.go).
      refuse(socket, 500, {
        body: `container not found (${goQuote(container)})`,
        type: 'text/plain; charset=utf-8',
      });
      return;
    }
    this.execWss.handleUpgrade(req, socket, head, (ws) => {
      this.track(ws);
      if (!running) {
        // v5: the stream translator upgrades first; its SPDY connection to the kubelet then fails with
        // the kubelet's 500 (apimachinery@v0.34.0 pkg/util/httpstream/spdy/roundtripper.go "unable to
        // upgrade connection: %s"), which it reports as NewInternalError on the status channel.
        const err = `unable to upgrade connection: container not found (${goQuote(container)})`;
        ws.send(wsFrame(3, JSON.stringify(internalErrorStatus(err))));
        ws.close(1000);
        return;
      }
      void this.runExec(ws, pod, command, url.searchParams.get('stdin') === 'true').catch((e: unknown) => {
        if (ws.readyState === ws.OPEN) {
          ws.send(
            wsFrame(
              3,
              JSON.stringify(
                internalErrorStatus(
                  `error executing command in container: ${e instanceof Error ? e.message : String(e)}`,
                ),
              ),
            ),
          );
          ws.close(1000);
        }
      });
    });
  }

  private track(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
  }

  /**
   * Runs `command` in the pod's sandbox: stdout and stderr stream to channels 1 and 2, the exit
   * status goes to channel 3 once the process has exited and its output pipes have closed (as
   * containerd waits for the exec's IO). The process leads a process group of its own; when the
   * client goes away first, the group gets SIGHUP (the session hangs up), so what the script started
   * with `nohup … &` survives, and the process itself is killed. Exit by signal N reports 128+N.
   */
  private async runExec(ws: WebSocket, pod: J, command: string[], stdin: boolean): Promise<void> {
    const sb = this.sandbox(pod);
    await sb.ready;
    if (ws.readyState !== ws.OPEN) return;
    const [file, args] = resolveCommand(command, sb.dir);
    const env: NodeJS.ProcessEnv = {
      PATH: `${path.join(sb.dir, 'bin')}:/usr/bin:/bin`,
      HOSTNAME: podHostname(pod),
      HOME: sb.dir,
      TMPDIR: path.join(sb.dir, 'tmp'),
      LANG: 'C.UTF-8',
      [TAG_VAR]: `${this.tag}/${sb.uid}`,
    };
    const child = spawn(file, args, {
      cwd: sb.dir,
      env,
      detached: true,
      stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    this.children.add(child);
    let exited = false;
    const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.once('close', (c, s) => resolve([c, s])),
    );
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (e) => {
        this.children.delete(child);
        reject(e);
      });
    });
    child.stdin?.on('error', () => undefined); // EPIPE once the process is gone
    child.stdout?.on('data', (d: Buffer) => ws.readyState === ws.OPEN && ws.send(wsFrame(1, d)));
    child.stderr?.on('data', (d: Buffer) => ws.readyState === ws.OPEN && ws.send(wsFrame(2, d)));
    ws.on('message', (data: Buffer) => {
      if (!child.stdin) return;
      if (data[0] === 0) child.stdin.write(data.subarray(1));
      else if (data[0] === 255 && data[1] === 0) child.stdin.end(); // v5 close of stdin
    });
    ws.on('close', () => {
      if (exited || child.pid === undefined) return;
      signalGroup(child.pid, 'SIGHUP');
      setTimeout(() => {
        if (!exited) child.kill('SIGKILL');
      }, 200).unref();
    });
    await spawned;
    const [code, signal] = await closed;
    exited = true;
    this.children.delete(child);
    const exit = code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0);
    if (ws.readyState !== ws.OPEN) return;
    ws.send(wsFrame(3, JSON.stringify(execStatus(exit, command))));
    ws.close(1000);
  }

  /**
   * `GET …/portforward?ports=N`: the API server checks the pod and its node (strategy.go
   * PortForwardLocation), then proxies to the kubelet, which proxies to containerd's streaming
   * server. That upgrades, writes the port to both channels, and dials localhost:N in the pod's
   * netns; a failed dial goes to the error channel and the streams close.
   */
  private portForwardUpgrade(
    req: http.IncomingMessage,
    socket: Duplex,
    head: Buffer,
    url: URL,
    pod: J,
  ): void {
    const podName: string = pod.metadata.name;
    if (!pod.spec?.nodeName)
      return refuse(
        socket,
        400,
        apiStatus(badRequest(`pod ${podName} does not have a host assigned`).status),
      );
    const ports = (url.searchParams.get('ports') ?? '')
      .split(',')
      .filter(Boolean)
      .map((p) => Number(p));
    if (!ports.length || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535))
      return refuse(socket, 400, {
        body: `query parameter "port" is required`,
        type: 'text/plain; charset=utf-8',
      });
    this.forwardWss.handleUpgrade(req, socket, head, (ws) => {
      this.track(ws);
      let open = ports.length;
      const done = () => {
        open -= 1;
        if (open === 0) ws.close(1000);
      };
      ports.forEach((port, i) => {
        ws.send(wsFrame(2 * i, portPrefix(port)));
        ws.send(wsFrame(2 * i + 1, portPrefix(port)));
        // A pod that does not run has nothing listening (its sandbox may not even exist yet).
        const target = pod.status?.phase === 'Running' ? this.opts.portForward?.(pod, port) : undefined;
        if (!target) {
          ws.send(wsFrame(2 * i + 1, portForwardRefused(pod, port)));
          done();
          return;
        }
        serveHttpStream(ws, 2 * i, target, done);
      });
    });
  }

  // ---- the stand-in tools' endpoint ----

  private serveTool(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const reply = (text: string, type = 'text/plain') => {
        res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
        res.end(text);
      };
      if (req.headers['x-twin-token'] !== this.token) {
        res.writeHead(403).end();
        return;
      }
      const [namespace = '', name = '', uid = ''] = String(req.headers['x-twin-pod'] ?? '').split('/');
      const pod = this.opts.store.get<J>(POD, { namespace, name });
      const url = new URL(req.url ?? '/', 'http://twin');
      try {
        if (!pod || pod.metadata.uid !== uid) throw new Error(`pod ${namespace}/${name} is gone`);
        const run = /^\/v1\/run\/(curl|ipset)$/.exec(url.pathname);
        if (run) {
          const argv = parseNetstrings(body);
          const r = run[1] === 'curl' ? this.curl(pod, argv) : this.ipset(pod, argv);
          reply(
            `${r.exit} ${Buffer.byteLength(r.stdout)} ${Buffer.byteLength(r.stderr)}\n${r.stdout}${r.stderr}`,
          );
          return;
        }
        const json = JSON.parse(body.toString('utf8') || '{}') as { argv?: string[]; id?: string };
        if (url.pathname === '/v1/tcpdump/start')
          return reply(JSON.stringify(this.tcpdumpStart(pod, json.argv ?? [])), 'application/json');
        if (url.pathname === '/v1/tcpdump/stop')
          return reply(JSON.stringify(this.tcpdumpStop(json.id ?? '')), 'application/json');
        res.writeHead(404).end();
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        if (url.pathname.startsWith('/v1/run/'))
          reply(`2 0 ${Buffer.byteLength(`twin: ${msg}\n`)}\ntwin: ${msg}\n`);
        else reply(JSON.stringify({ exit: 2, stdout: '', stderr: `twin: ${msg}\n` }), 'application/json');
      }
    });
  }

  /** The in-pod curl (section 5). */
  curl(pod: J, argv: string[]): ToolResult {
    return runCurl(argv, {
      pod,
      objects: this.objects(),
      traffic: this.opts.traffic,
      now: this.clock(),
      podApp: this.opts.podApp,
    });
  }

  /** The in-pod ipset (section 7). */
  ipset(pod: J, argv: string[]): ToolResult {
    return runIpset(argv, pod, this.opts.store);
  }

  private tcpdumpStart(pod: J, argv: string[]): ToolResult & { id?: string } {
    const parsed = parseTcpdumpArgs(argv);
    if ('exit' in parsed) return parsed;
    const id = String(this.nextCapture++);
    this.captures.set(id, {
      pod: { namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid },
      hosts: parsed.hosts,
      started: this.clock(),
      iface: parsed.iface,
    });
    return { id, exit: 0, stdout: '', stderr: tcpdumpBanner(parsed.iface) };
  }

  private tcpdumpStop(id: string): ToolResult {
    const cap = this.captures.get(id);
    if (!cap) return { exit: 1, stdout: '', stderr: 'twin: no such capture\n' };
    this.captures.delete(id);
    const pod = this.opts.store.get<J>(POD, cap.pod);
    const view = captureView(pod, this.objects());
    const { text, count } = renderCapture(
      this.opts.traffic.records(),
      view,
      cap.hosts,
      cap.started,
      this.clock(),
    );
    return { exit: 0, stdout: text, stderr: tcpdumpStats(count) };
  }
}

// ---- small helpers of the runtime ----

function offeredProtocols(req: http.IncomingMessage): string[] {
  return String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

function apiStatus(s: Status): { body: string; type: string } {
  return { body: JSON.stringify(s), type: 'application/json' };
}

function statusJson(code: number, reason: string, message: string): { body: string; type: string } {
  return apiStatus({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
  });
}

/** apimachinery@v0.34.0 pkg/api/errors/errors.go NewInternalError, as the status channel carries it. */
function internalErrorStatus(err: string): object {
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${err}`,
    reason: 'InternalError',
    details: { causes: [{ message: err }] },
    code: 500,
  };
}

/** Answers an upgrade request with a plain HTTP response (no upgrade) and closes the socket. */
function refuse(socket: Duplex, code: number, reply: { body: string; type: string }): void {
  socket.end(
    `HTTP/1.1 ${code} ${http.STATUS_CODES[code] ?? ''}\r\nCache-Control: no-cache, private\r\n` +
      `Content-Type: ${reply.type}\r\nContent-Length: ${Buffer.byteLength(reply.body)}\r\nConnection: close\r\n\r\n${reply.body}`,
  );
}

/** The container's state in the pod status (the kubelet's view of what runs). */
function containerRunning(pod: J, container: string): boolean {
  if (pod.status?.phase !== 'Running') return false;
  const statuses: J[] = [
    ...(pod.status?.containerStatuses ?? []),
    ...(pod.status?.initContainerStatuses ?? []),
  ];
  const st = statuses.find((s) => s.name === container);
  return st ? !!st.state?.running : true;
}

/**
 * kubernetes pkg/kubelet/kubelet_pods.go GeneratePodHostNameAndDomain: spec.hostname or the pod
 * name, cut to 63 characters without a trailing '-' or '.' (truncatePodHostnameIfNeeded). A
 * host-network pod has the node's hostname, which on kind is the node name.
 */
export function podHostname(pod: J): string {
  if (pod.spec?.hostNetwork) return String(pod.spec?.nodeName ?? '');
  const h = String(pod.spec?.hostname || pod.metadata?.name || '');
  return h.length <= 63 ? h : h.slice(0, 63).replace(/[-.]+$/, '');
}

/**
 * argv[0] on the pod's PATH; `sh -c SCRIPT` (any sh/bash/ash) runs SCRIPT with /tmp mapped to the
 * pod's own tmp/: the harness's scripts use absolute /tmp paths (capture-live.ts) and pods must not
 * share them. Arguments that are /tmp paths are mapped the same way.
 */
function resolveCommand(command: string[], dir: string): [string, string[]] {
  const [argv0 = '', ...rest] = command;
  if (!argv0) throw new Error('no command given');
  const tmp = path.join(dir, 'tmp');
  const mapTmp = (s: string) => s.replace(/(^|[\s'"=<>;&|(`])\/tmp(?=\/|[\s'";&|)`]|$)/g, `$1${tmp}`);
  const isShell = ['sh', 'bash', 'ash', 'dash'].includes(path.basename(argv0));
  const args = rest.map((a, i) =>
    isShell && i === 1 && rest[0] === '-c' ? mapTmp(a) : a.startsWith('/tmp/') ? mapTmp(a) : a,
  );
  if (argv0.includes('/')) return [argv0, args];
  for (const d of [path.join(dir, 'bin'), '/usr/bin', '/bin']) {
    const f = path.join(d, argv0);
    try {
      fs.accessSync(f, fs.constants.X_OK);
      if (fs.statSync(f).isFile()) return [f, args];
    } catch {
      // not here
    }
  }
  // Go's exec.LookPath error, as runc reports it (runc uses it to resolve argv[0]).
  throw new Error(`exec: ${goQuote(argv0)}: executable file not found in $PATH`);
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone
  }
}

/** Processes whose environment carries the runtime tag (prefix), from /proc. */
function taggedPids(prefix: string): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = fs.readFileSync(`/proc/${entry}/environ`, 'latin1');
      if (env.split('\0').some((v) => v.startsWith(`${TAG_VAR}=${prefix}`))) out.push(Number(entry));
    } catch {
      // gone, or not ours
    }
  }
  return out;
}

/** SIGKILLs every live process tagged with `prefix` and waits (up to 3 s) until none is left. */
async function killTagged(prefix: string): Promise<void> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const pids = taggedPids(prefix);
    if (!pids.length || Date.now() > deadline) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Process ids of the live (not zombie) processes the runtime with `tag` started: for tests. */
export function runtimeProcesses(tag?: string): number[] {
  return taggedPids(tag ? `${tag}/` : '').filter((pid) => {
    try {
      return !/^\d+ \(.*\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'latin1'));
    } catch {
      return false;
    }
  });
}

/** The netstring-like argv encoding of the shims: `<bytes>:<arg>,` per argument. */
function parseNetstrings(b: Buffer): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < b.length) {
    const colon = b.indexOf(0x3a, i);
    if (colon < 0) throw new Error('bad argv encoding');
    const n = Number(b.subarray(i, colon).toString('latin1'));
    if (!Number.isInteger(n) || n < 0) throw new Error('bad argv encoding');
    out.push(b.subarray(colon + 1, colon + 1 + n).toString('utf8'));
    i = colon + 1 + n + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// 4. Port-forward: HTTP over the data channel, and the kubelet's refusal
// ---------------------------------------------------------------------------------------------------------

/**
 * What containerd (v2.1.3, kind v0.30.0's node image) reports when nothing listens on the port,
 * wrapped by the streaming server's port-forward handler:
 * - vendor/k8s.io/kubelet/pkg/cri/streaming/portforward/websocket.go: `error forwarding port %d to
 *   pod %s, uid %v: %v`, with the sandbox id as the pod and an empty uid (streaming/server.go
 *   servePortForward passes `""`);
 * - internal/cri/server/sandbox_portforward_linux.go: `failed to execute portforward in network
 *   namespace %q: %w` around `failed to connect to localhost:%d inside namespace %q, IPv4: %v IPv6 %v `
 *   (sic, trailing space), the errors being Go's net.Dial errors. The netns path is
 *   /var/run/netns/cni-<uuid> (sandbox_run.go, pkg/netns/netns_linux.go), "host" for host-network
 *   pods. The IPv6 half assumes the node's /etc/hosts maps localhost to ::1.
 * The sandbox id and netns name are derived from the pod uid.
 */
export function portForwardRefused(pod: J, port: number): string {
  const uid = String(pod.metadata?.uid ?? '');
  const sandbox = createHash('sha256').update(`sandbox/${uid}`).digest('hex');
  const n = createHash('sha256').update(`netns/${uid}`).digest('hex');
  const netns = pod.spec?.hostNetwork
    ? 'host'
    : `/var/run/netns/cni-${n.slice(0, 8)}-${n.slice(8, 12)}-${n.slice(12, 16)}-${n.slice(16, 20)}-${n.slice(20, 32)}`;
  return (
    `error forwarding port ${port} to pod ${sandbox}, uid : failed to execute portforward in network namespace ` +
    `"${netns}": failed to connect to localhost:${port} inside namespace "${sandbox}", IPv4: dial tcp4 ` +
    `127.0.0.1:${port}: connect: connection refused IPv6 dial tcp6 [::1]:${port}: connect: connection refused `
  );
}

/** Reads HTTP/1.1 requests from a data channel, answers each from `target`; keeps the connection alive. */
function serveHttpStream(ws: WebSocket, channel: number, target: PortTarget, done: () => void): void {
  let buf = Buffer.alloc(0);
  let closed = false;
  ws.on('message', (data: Buffer) => {
    if (closed || data[0] !== channel) return;
    buf = Buffer.concat([buf, data.subarray(1)]);
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1').split('\r\n');
      const [method = 'GET', target_ = '/'] = (head[0] ?? '').split(' ');
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const c = line.indexOf(':');
        if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      if (buf.length < end + 4 + length) return;
      buf = buf.subarray(end + 4 + length);
      let res: PortResponse;
      try {
        res = target.http({ method, path: target_, headers });
      } catch (e) {
        res = { status: 500, body: e instanceof Error ? e.message : String(e) };
      }
      const hs = { ...(res.headers ?? {}) };
      if (!Object.keys(hs).some((k) => k.toLowerCase() === 'content-length'))
        hs['content-length'] = String(Buffer.byteLength(res.body));
      const text =
        `HTTP/1.1 ${res.status} ${http.STATUS_CODES[res.status] ?? ''}\r\n` +
        Object.entries(hs)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join('') +
        `\r\n${res.body}`;
      ws.send(wsFrame(channel, text));
      if ((headers.connection ?? '').toLowerCase() === 'close') {
        closed = true;
        done();
        return;
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// 5. curl 7.88.1
// ---------------------------------------------------------------------------------------------------------

/**
 * curl 7.88.1's options (`curl --help all`, Debian 12's curl 7.88.1): those taking a value, the
 * boolean ones, and the short letters of each kind. Known options the twin does not model are
 * refused with a twin message; unknown ones with curl's own.
 */
const CURL_VALUE_OPTIONS = new Set(
  'abstract-unix-socket alt-svc aws-sigv4 cacert capath cert cert-type ciphers config connect-timeout connect-to continue-at cookie cookie-jar create-file-mode crlfile curves data data-ascii data-binary data-raw data-urlencode delegation dns-interface dns-ipv4-addr dns-ipv6-addr dns-servers doh-url dump-header egd-file engine etag-compare etag-save expect100-timeout form form-string ftp-account ftp-alternative-to-user ftp-method ftp-port ftp-ssl-ccc-mode happy-eyeballs-timeout-ms header help hostpubmd5 hostpubsha256 hsts interface json keepalive-time key key-type krb libcurl limit-rate local-port login-options mail-auth mail-from mail-rcpt max-filesize max-redirs max-time netrc-file noproxy oauth2-bearer output output-dir parallel-max pass pinnedpubkey preproxy proto proto-default proto-redir proxy proxy-cacert proxy-capath proxy-cert proxy-cert-type proxy-ciphers proxy-crlfile proxy-header proxy-key proxy-key-type proxy-pass proxy-pinnedpubkey proxy-service-name proxy-tls13-ciphers proxy-tlsauthtype proxy-tlspassword proxy-tlsuser proxy-user proxy1.0 pubkey quote random-file range rate referer request request-target resolve retry retry-delay retry-max-time sasl-authzid service-name socks4 socks4a socks5 socks5-gssapi-service socks5-hostname speed-limit speed-time stderr telnet-option tftp-blksize time-cond tls-max tls13-ciphers tlsauthtype tlspassword tlsuser trace trace-ascii unix-socket upload-file url url-query user user-agent write-out'.split(
    ' ',
  ),
);
const CURL_BOOL_OPTIONS = new Set(
  'anyauth append basic cert-status compressed compressed-ssh create-dirs crlf digest disable disable-eprt disable-epsv disallow-username-in-url doh-cert-status doh-insecure fail fail-early fail-with-body false-start form-escape ftp-create-dirs ftp-pasv ftp-pret ftp-skip-pasv-ip ftp-ssl-ccc ftp-ssl-control get globoff haproxy-protocol head http0.9 http1.0 http1.1 http2 http2-prior-knowledge http3 http3-only ignore-content-length include insecure ipv4 ipv6 junk-session-cookies list-only location location-trusted mail-rcpt-allowfails manual metalink negotiate netrc netrc-optional next no-alpn no-buffer no-clobber no-keepalive no-npn no-progress-meter no-sessionid ntlm ntlm-wb parallel parallel-immediate path-as-is post301 post302 post303 progress-bar proxy-anyauth proxy-basic proxy-digest proxy-insecure proxy-negotiate proxy-ntlm proxy-ssl-allow-beast proxy-ssl-auto-client-cert proxy-tlsv1 proxytunnel raw remote-header-name remote-name remote-name-all remote-time remove-on-error retry-all-errors retry-connrefused sasl-ir show-error silent socks5-basic socks5-gssapi socks5-gssapi-nec ssl ssl-allow-beast ssl-auto-client-cert ssl-no-revoke ssl-reqd ssl-revoke-best-effort sslv2 sslv3 styled-output suppress-connect-headers tcp-fastopen tcp-nodelay tftp-no-options tlsv1 tlsv1.0 tlsv1.1 tlsv1.2 tlsv1.3 tr-encoding trace-time use-ascii verbose version xattr'.split(
    ' ',
  ),
);
const CURL_SHORT_VALUE = 'ACDEFHKPQTUXYbcdehmortuwxyz';
const CURL_SHORT_BOOL = '#012346:BGIJLMNORSVZafgijklnpqsv';
/** The short letters the twin models, and their long names. */
const CURL_SHORT_MODELLED: Record<string, string> = {
  s: 'silent',
  S: 'show-error',
  f: 'fail',
  m: 'max-time',
  w: 'write-out',
};
const CURL_MODELLED = new Set([
  'silent',
  'show-error',
  'fail',
  'fail-early',
  'connect-timeout',
  'max-time',
  'write-out',
  'url',
]);

const CURL_TRY = "curl: try 'curl --help' or 'curl --manual' for more information\n";

/** lib/connect.h DEFAULT_CONNECT_TIMEOUT: 300000 ms when --connect-timeout is not given. */
const CURL_DEFAULT_CONNECT_TIMEOUT = 300;

export interface CurlOptionsParsed {
  silent: boolean;
  showError: boolean;
  fail: boolean;
  failEarly: boolean;
  connectTimeout?: number;
  maxTime?: number;
  writeOut?: string;
  urls: string[];
}

/** Parses curl's command line as curl 7.88.1 does for the options the twin models. */
export function parseCurlArgs(argv: string[]): CurlOptionsParsed | ToolResult {
  const o: CurlOptionsParsed = { silent: false, showError: false, fail: false, failEarly: false, urls: [] };
  const usage = (msg: string): ToolResult => ({ exit: 2, stdout: '', stderr: `curl: ${msg}\n${CURL_TRY}` });
  const unmodelled = (opt: string): ToolResult => ({
    exit: 2,
    stdout: '',
    stderr: `curl: option ${opt}: is not modelled by the twin's curl (test/twin/pods.ts)\n`,
  });
  const set = (long: string, shown: string, value: string | undefined): ToolResult | undefined => {
    const number = () => {
      const n = Number(value);
      return value !== undefined && /^\d+(\.\d+)?$/.test(value) && Number.isFinite(n) ? n : undefined;
    };
    switch (long) {
      case 'silent':
        o.silent = true;
        return;
      case 'show-error':
        o.showError = true;
        return;
      case 'fail':
        o.fail = true;
        return;
      case 'fail-early':
        o.failEarly = true;
        return;
      case 'connect-timeout':
      case 'max-time': {
        const n = number();
        if (n === undefined) return usage(`option ${shown}: expected a proper numerical parameter`);
        if (long === 'max-time') o.maxTime = n;
        else o.connectTimeout = n;
        return;
      }
      case 'write-out':
        o.writeOut = value;
        return;
      case 'url':
        o.urls.push(value ?? '');
        return;
    }
    return unmodelled(shown);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a.startsWith('--') && a.length > 2) {
      const name = a.slice(2);
      const bool =
        CURL_BOOL_OPTIONS.has(name) || (name.startsWith('no-') && CURL_BOOL_OPTIONS.has(name.slice(3)));
      if (!bool && !CURL_VALUE_OPTIONS.has(name)) return usage(`option ${a}: is unknown`);
      if (!CURL_MODELLED.has(name)) return unmodelled(a);
      let value: string | undefined;
      if (CURL_VALUE_OPTIONS.has(name)) {
        if (i + 1 >= argv.length) return usage(`option ${a}: requires parameter`);
        value = argv[++i];
      }
      const err = set(name, a, value);
      if (err) return err;
    } else if (a.startsWith('-') && a.length > 1) {
      const letters = a.slice(1);
      if ([...letters].some((l) => !CURL_SHORT_VALUE.includes(l) && !CURL_SHORT_BOOL.includes(l)))
        return usage(`option ${a}: is unknown`);
      for (let j = 0; j < letters.length; j++) {
        const l = letters[j] ?? '';
        const long = CURL_SHORT_MODELLED[l];
        if (!long) return unmodelled(`-${l}`);
        if (CURL_SHORT_VALUE.includes(l)) {
          let value = letters.slice(j + 1);
          if (!value) {
            if (i + 1 >= argv.length) return usage(`option -${l}: requires parameter`);
            value = argv[++i] ?? '';
          }
          const err = set(long, `-${l}`, value);
          if (err) return err;
          break;
        }
        const err = set(long, `-${l}`, undefined);
        if (err) return err;
      }
    } else o.urls.push(a);
  }
  if (!o.urls.length) return usage('no URL specified!');
  return o;
}

interface ParsedUrl {
  host: string;
  /** The host as the Host header and error messages show it ([v6] bracketed in Host only). */
  hostHeader: string;
  port: number;
  /** Path and query as sent on the request line. */
  target: string;
  effective: string;
}

/** URL handling of curl 7.88.1 for http:// URLs and scheme-less ones (curl guesses http). */
function parseCurlUrl(raw: string): ParsedUrl | { exit: number; message: string } {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(raw);
  const scheme = m ? (m[1] ?? '').toLowerCase() : 'http';
  if (scheme !== 'http') {
    if (scheme === 'https')
      return { exit: 2, message: "twin: https is not modelled by the twin's curl (test/twin/pods.ts)" };
    return { exit: 1, message: `Protocol "${m?.[1]}" not supported or disabled in libcurl` };
  }
  const rest = m ? raw.slice(m[0].length) : raw;
  const hp = /^(\[[0-9a-fA-F:.]+\]|[^/?#:\s]+)(?::(\d+))?([/?#].*)?$/.exec(rest);
  if (!hp) return { exit: 3, message: 'URL using bad/illegal format or missing URL' };
  const [, hostRaw = '', portRaw, tail = ''] = hp;
  const port = portRaw ? Number(portRaw) : 80;
  if (port > 65535) return { exit: 3, message: 'URL using bad/illegal format or missing URL' };
  const host = hostRaw.replace(/^\[|\]$/g, '');
  let target = tail.replace(/#.*$/, '');
  if (!target.startsWith('/')) target = `/${target}`;
  const hostHeader = port === 80 ? hostRaw : `${hostRaw}:${port}`;
  const effective = `http://${hostRaw}${portRaw ? `:${port}` : ''}${target}`;
  return { host, hostHeader, port, target, effective };
}

interface CurlContext {
  pod: J;
  objects: TwinObjects;
  traffic: Traffic;
  now: Date;
  podApp?: (pod: KubeObject, port: number) => PortTarget | undefined;
}

/** One TCP connection of a curl run, reused by later URLs to the same host and port. */
interface CurlConnection {
  key: string;
  decision: Decision;
  record: Omit<ConnectionRecord, 'id'>;
  /** The source port the server sees (curl's, or the one of the ztunnel that connected upstream). */
  appPeerPort: number;
  dstPod?: J;
  requests: string[];
  responses: string[];
  /** Filled in when the connection ends (recorded in Traffic). */
  done: boolean;
}

interface TransferInfo {
  url: ParsedUrl | undefined;
  rawUrl: string;
  httpCode: number;
  seconds: number;
  exit: number;
  error: string;
  bodyBytes: number;
  requestBytes: number;
  headerBytes: number;
  remoteIp: string;
  remotePort: number;
  localPort: number;
  localIp: string;
  connects: number;
}

/**
 * Runs curl in `ctx.pod` for `argv`. For each URL: a connection to host:port is decided by the
 * dataplane (one decision per connection; a later URL to the same host and port reuses a
 * connection the server kept open, as curl does), the request goes to the destination pod's app
 * (agnhost netexec, or ctx.podApp), and the connection is recorded in ctx.traffic. What curl prints:
 * the body, the -w write-out after every transfer (failed ones too), error lines `curl: (N) …` when
 * not silent or with -S, and the exit code of the last transfer (of the first failed one with
 * --fail-early). Errors go first, then stdout: curl's stderr is unbuffered and its stdout is
 * flushed at exit, which is how `2>&1` interleaves them in the harness's probes. Simulated seconds
 * are never waited for.
 */
export function runCurl(argv: string[], ctx: CurlContext): ToolResult {
  const parsed = parseCurlArgs(argv);
  if ('exit' in parsed) return parsed;
  const connectTimeout = parsed.connectTimeout ?? CURL_DEFAULT_CONNECT_TIMEOUT;
  const maxTime = parsed.maxTime ?? Number.POSITIVE_INFINITY;
  const showErrors = !parsed.silent || parsed.showError;
  let stdout = '';
  let stderr = '';
  let exit = 0;
  let elapsed = 0;
  // Every connection of the run, and the newest per host:port (what a later URL may reuse).
  const opened: CurlConnection[] = [];
  const conns = new Map<string, CurlConnection>();
  const src = ctx.pod;
  const srcIp: string = src.status?.podIP ?? '';
  for (const rawUrl of parsed.urls) {
    const info: TransferInfo = {
      url: undefined,
      rawUrl,
      httpCode: 0,
      seconds: 0,
      exit: 0,
      error: '',
      bodyBytes: 0,
      requestBytes: 0,
      headerBytes: 0,
      remoteIp: '',
      remotePort: 0,
      localPort: 0,
      localIp: '',
      connects: 0,
    };
    const url = parseCurlUrl(rawUrl);
    let body = '';
    if ('exit' in url) {
      info.exit = url.exit;
      info.error = url.message;
    } else if (!isIpLiteral(url.host)) {
      info.url = url;
      info.exit = 6;
      info.error = `Could not resolve host: ${url.host}`;
    } else {
      info.url = url;
      const key = `${url.host}:${url.port}`;
      let conn = conns.get(key);
      const reused = conn !== undefined && conn.decision.outcome === 'connected';
      if (!reused) {
        if (src.spec?.hostNetwork)
          throw new Error("host-network sources are out of scope for the twin's dataplane (TODO)");
        const start = new Date(ctx.now.getTime() + elapsed * 1000);
        conn = openConnection(ctx, key, url, start, { connectTimeout, maxTime });
        conns.set(key, conn);
        opened.push(conn);
        info.connects = 1;
      }
      const c = conn as CurlConnection;
      const d = c.decision;
      info.localPort = c.record.src.port;
      info.localIp = srcIp;
      const jitter = (c.record.src.port % 997) / 1e6;
      // What curl 7.88.1 sends (checked with the real binary: Host without the port when it is 80).
      const request = `GET ${url.target} HTTP/1.1\r\nHost: ${url.hostHeader}\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n`;
      if (d.outcome === 'connected') {
        info.remoteIp = url.host;
        info.remotePort = url.port;
        const answer = serveApp(ctx, c, url, request);
        c.requests.push(request);
        if (answer === undefined) {
          info.exit = 52;
          info.error = 'Empty reply from server';
        } else {
          c.responses.push(answer.raw);
          info.httpCode = answer.status;
          info.headerBytes = Buffer.byteLength(answer.raw) - Buffer.byteLength(answer.body);
          info.requestBytes = Buffer.byteLength(request);
          if (parsed.fail && answer.status >= 400) {
            info.exit = 22;
            info.error = `The requested URL returned error: ${answer.status}`;
          } else {
            body = answer.body;
            info.bodyBytes = Buffer.byteLength(answer.body);
          }
        }
        info.seconds = reused ? 0.0002 + jitter / 4 : 0.001 + jitter;
      } else {
        // An enrolled source's connect is accepted by its own ztunnel (15001), so curl sends its request
        // whatever happens after; otherwise only a connection that is reset had been accepted.
        const viaZtunnel = isEnrolled(src);
        if (d.curlExit === 56 || (d.curlExit === 28 && viaZtunnel)) c.requests.push(request);
        info.seconds = curlFailure(d, url, connectTimeout, maxTime, jitter, info, viaZtunnel);
      }
      elapsed += info.seconds;
    }
    stdout += body;
    if (info.exit !== 0 && showErrors) stderr += `curl: (${info.exit}) ${info.error}\n`;
    if (parsed.writeOut !== undefined) {
      const w = writeOut(parsed.writeOut, info);
      stdout += w.out;
      stderr += w.err;
    }
    exit = info.exit;
    if (info.exit !== 0 && parsed.failEarly) break;
  }
  for (const c of opened) finishConnection(ctx, c);
  return { exit, stdout, stderr };
}

function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');
}

/** Decides a new connection and prepares its record (added to Traffic when the run ends). */
function openConnection(
  ctx: CurlContext,
  key: string,
  url: ParsedUrl,
  start: Date,
  t: { connectTimeout: number; maxTime: number },
): CurlConnection {
  const src = ctx.pod;
  const decision = decide(
    ctx.objects,
    { from: { namespace: src.metadata.namespace, name: src.metadata.name }, toIp: url.host, port: url.port },
    { connectTimeout: t.connectTimeout, maxTime: Number.isFinite(t.maxTime) ? t.maxTime : 1e9 },
  );
  const curlPort = ctx.traffic.ephemeralPort();
  const dstPod = podForIp(ctx.objects, url.host);
  const srcEnrolled = isEnrolled(src);
  const dstEnrolled = !!dstPod && !dstPod.spec?.hostNetwork && isEnrolled(dstPod);
  // ztunnel opens its own connections (zt@1.28.3 src/proxy.rs freebind_connect binds port 0): the
  // app sees the source pod IP with a new port whenever a ztunnel is in the path.
  const appPeerPort = dstEnrolled
    ? ztunnelPort(curlPort, 'inbound')
    : srcEnrolled
      ? ztunnelPort(curlPort, 'outbound')
      : curlPort;
  const end = new Date(start.getTime() + decision.seconds * 1000);
  return {
    key,
    decision,
    appPeerPort,
    ...(dstPod ? { dstPod } : {}),
    requests: [],
    responses: [],
    done: false,
    record: {
      start,
      end,
      src: endpointOf(src, src.status?.podIP ?? '', curlPort),
      dst: endpointOf(dstPod, url.host, url.port),
      decision,
      bytesSent: 0,
      bytesReceived: 0,
    },
  };
}

/**
 * The source port of a connection a ztunnel opens on the client's behalf: the kernel picks a free
 * ephemeral port; the twin derives one from curl's so captures and /clientip agree.
 */
export function ztunnelPort(curlPort: number, side: 'inbound' | 'outbound'): number {
  const span = 60999 - 32768 + 1;
  return 32768 + ((curlPort * (side === 'inbound' ? 7919 : 104729) + 12345) % span);
}

/** Adds the connection's record: request and response text, and bytes as ztunnel counts them (what it copied). */
function finishConnection(ctx: CurlContext, c: CurlConnection): void {
  if (c.done) return;
  c.done = true;
  const request = c.requests.join('');
  const response = c.responses.join('');
  const connected = c.decision.outcome === 'connected';
  ctx.traffic.add({
    ...c.record,
    ...(request ? { request } : {}),
    ...(response ? { response } : {}),
    bytesSent: connected ? Buffer.byteLength(request) : 0,
    bytesReceived: connected ? Buffer.byteLength(response) : 0,
  });
}

/** curl's error for a failed connection, and the transfer's simulated seconds. */
function curlFailure(
  d: Decision,
  url: ParsedUrl,
  connectTimeout: number,
  maxTime: number,
  jitter: number,
  info: TransferInfo,
  viaZtunnel: boolean,
): number {
  info.exit = d.curlExit;
  switch (d.curlExit) {
    case 7: {
      const s = 0.0001 + jitter / 2;
      info.error = `Failed to connect to ${url.host} port ${url.port} after ${Math.floor(s * 1000)} ms: Couldn't connect to server`;
      return s;
    }
    case 56: {
      // A reset: curl had connected (to the server, or to the local ztunnel) and sent its request.
      const s = d.seconds + 0.0005 + jitter;
      info.remoteIp = url.host;
      info.remotePort = url.port;
      info.error = 'Recv failure: Connection reset by peer';
      return s;
    }
    case 28: {
      // curl 7.88.1 (checked against the real binary): its own connect timing out is "Failed to connect
      // to … after N ms: Timeout was reached" when --connect-timeout is the shorter limit, "Connection
      // timed out after N milliseconds" when --max-time is; once connected (to the local ztunnel),
      // "Operation timed out after N milliseconds with 0 bytes received".
      const s = d.seconds + 0.001 + jitter;
      const ms = Math.floor(s * 1000);
      if (viaZtunnel) {
        info.remoteIp = url.host;
        info.remotePort = url.port;
        info.error = `Operation timed out after ${ms} milliseconds with 0 bytes received`;
      } else if (connectTimeout < maxTime)
        info.error = `Failed to connect to ${url.host} port ${url.port} after ${ms} ms: Timeout was reached`;
      else info.error = `Connection timed out after ${ms} milliseconds`;
      return s;
    }
    default:
      info.error = d.why;
      return d.seconds;
  }
}

/**
 * curl's -w: `\n`, `\r`, `\t` and `%%` escapes, `%{variable}` for the variables below; an unknown
 * variable prints nothing and `curl: unknown --write-out variable: 'x'` on stderr; any other `\x`
 * or `%x` is printed as is (all checked against curl 7.88.1). Times print as `%u.%06u` seconds.
 */
function writeOut(fmt: string, t: TransferInfo): { out: string; err: string } {
  const time = (s: number) => {
    const us = Math.round(s * 1e6);
    return `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}`;
  };
  const vars: Record<string, () => string> = {
    http_code: () => String(t.httpCode).padStart(3, '0'),
    response_code: () => String(t.httpCode).padStart(3, '0'),
    time_total: () => time(t.seconds),
    time_connect: () => time(t.remoteIp ? Math.min(t.seconds, 0.0003) : 0),
    time_starttransfer: () => time(t.httpCode ? t.seconds * 0.9 : 0),
    exitcode: () => String(t.exit),
    errormsg: () => t.error,
    remote_ip: () => t.remoteIp,
    remote_port: () => String(t.remotePort),
    local_ip: () => (t.localIp && t.remoteIp ? t.localIp : ''),
    local_port: () => String(t.remoteIp ? t.localPort : 0),
    size_download: () => String(t.bodyBytes),
    size_header: () => String(t.headerBytes),
    size_request: () => String(t.requestBytes),
    num_connects: () => String(t.connects),
    url_effective: () => t.url?.effective ?? t.rawUrl,
    url: () => t.rawUrl,
  };
  let out = '';
  let err = '';
  for (let i = 0; i < fmt.length; i++) {
    const ch = fmt[i];
    const next = fmt[i + 1];
    if (ch === '\\' && next !== undefined && 'nrt'.includes(next)) {
      out += next === 'n' ? '\n' : next === 'r' ? '\r' : '\t';
      i++;
    } else if (ch === '%' && next === '%') {
      out += '%';
      i++;
    } else if (ch === '%' && next === '{' && fmt.indexOf('}', i) > 0) {
      const close = fmt.indexOf('}', i);
      const name = fmt.slice(i + 2, close);
      const v = vars[name];
      if (v) out += v();
      else err += `curl: unknown --write-out variable: '${name}'\n`;
      i = close;
    } else out += ch;
  }
  return { out, err };
}

// ---------------------------------------------------------------------------------------------------------
// 6. The apps behind pod IPs: agnhost netexec
// ---------------------------------------------------------------------------------------------------------

interface AppAnswer {
  status: number;
  body: string;
  /** The whole response as sent on the wire. */
  raw: string;
}

/** The pod (not terminal) whose IP is `ip`: a pod-network pod first, else a host-network one (as decide()); undefined when none. */
function podForIp(objects: TwinObjects, ip: string): J {
  const live = (p: J) => !['Succeeded', 'Failed'].includes(p.status?.phase);
  const ips = (p: J): string[] =>
    [p.status?.podIP, ...(p.status?.podIPs ?? []).map((x: J) => x.ip)].filter(Boolean);
  const pods = objects.pods as J[];
  return (
    pods.find((p) => live(p) && !p.spec?.hostNetwork && ips(p).includes(ip)) ??
    pods.find((p) => live(p) && p.spec?.hostNetwork && ips(p).includes(ip))
  );
}

function endpointOf(pod: J, ip: string, port: number): Endpoint {
  if (!pod) return { ip, port };
  return {
    ip,
    port,
    pod: {
      namespace: pod.metadata.namespace,
      name: pod.metadata.name,
      uid: pod.metadata.uid,
      node: pod.spec?.nodeName ?? '',
      serviceAccount: pod.spec?.serviceAccountName ?? pod.spec?.serviceAccount ?? 'default',
      enrolled: isEnrolled(pod),
    },
  };
}

/** The container running agnhost netexec on `port` (`netexec --http-port=N`, default 8080). */
function netexecOn(pod: J, port: number): boolean {
  return (pod.spec?.containers ?? []).some((c: J) => {
    const args: string[] = [...(c.command ?? []), ...(c.args ?? [])];
    if (!args.includes('netexec')) return false;
    let httpPort = 8080;
    for (let i = 0; i < args.length; i++) {
      const a = args[i] ?? '';
      const m = /^--http-port=(\d+)$/.exec(a);
      if (m) httpPort = Number(m[1]);
      else if (a === '--http-port') httpPort = Number(args[i + 1]);
    }
    return httpPort === port;
  });
}

/** Go's http.Date format (net/http appendTime): `Mon, 02 Jan 2006 15:04:05 GMT`. */
function httpDate(d: Date): string {
  return d.toUTCString();
}

/**
 * A response as Go's net/http server writes it for a small handler output (net/http server.go
 * chunkWriter.writeHeader and extraHeader.Write): status line, Date, Content-Length, then
 * Content-Type when the body is not empty (sniffed; the twin's bodies are plain text).
 */
function goHttpResponse(status: number, body: string, now: Date): AppAnswer {
  const head =
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nDate: ${httpDate(now)}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    (body ? 'Content-Type: text/plain; charset=utf-8\r\n' : '');
  return { status, body, raw: `${head}\r\n${body}` };
}

/**
 * agnhost netexec's HTTP handlers (kubernetes/kubernetes test/images/agnhost/netexec/netexec.go):
 * /hostname and /hostName print os.Hostname() (the pod's hostname), /clientip prints r.RemoteAddr
 * ("ip:port" as the server's socket sees it), /echo prints the msg parameter (with `code` as the
 * status), /healthz answers 200 with an empty body, and every other path reaches "/"
 * (rootHandler: "NOW: <time.Now()>"). None add a newline.
 */
export function netexecAnswer(pod: J, target: string, peer: string, now: Date): AppAnswer {
  const u = new URL(target, 'http://x');
  switch (u.pathname) {
    case '/hostname':
    case '/hostName':
      return goHttpResponse(200, podHostname(pod), now);
    case '/clientip':
      return goHttpResponse(200, peer, now);
    case '/echo': {
      const msg = u.searchParams.get('msg') ?? '';
      const code = u.searchParams.get('code') ?? '';
      if (code !== '') {
        if (!/^[+-]?\d+$/.test(code))
          return goHttpResponse(
            200,
            `argument 'code' must be an integer or empty, got ${goQuote(code)}\n`,
            now,
          );
        return goHttpResponse(Number(code), msg, now);
      }
      return goHttpResponse(200, msg, now);
    }
    case '/healthz':
      return goHttpResponse(200, '', now);
    default: {
      // Go's time.Time String() of time.Now(): layout "2006-01-02 15:04:05.999999999 -0700 MST"
      // (trailing zeros of the fraction dropped), then the monotonic reading " m=+<seconds>", here
      // counted from the pod's start.
      const [date = '', frac = ''] = now.toISOString().replace('T', ' ').replace('Z', '').split('.');
      const fraction = frac.replace(/0+$/, '');
      const started = Date.parse(String(pod.status?.startTime ?? '')) || now.getTime();
      const mono = Math.max(0, now.getTime() - started) / 1000;
      return goHttpResponse(
        200,
        `NOW: ${date}${fraction ? `.${fraction}` : ''} +0000 UTC m=+${mono.toFixed(9)}`,
        now,
      );
    }
  }
}

/** The destination app's answer to one request on a connected connection (undefined: no model). */
function serveApp(
  ctx: CurlContext,
  c: CurlConnection,
  url: ParsedUrl,
  request: string,
): AppAnswer | undefined {
  const dst = c.dstPod;
  if (!dst) return undefined;
  const srcIp: string = ctx.pod.status?.podIP ?? '';
  const peer = srcIp.includes(':') ? `[${srcIp}]:${c.appPeerPort}` : `${srcIp}:${c.appPeerPort}`;
  if (netexecOn(dst, url.port)) return netexecAnswer(dst, url.target, peer, ctx.now);
  const app = ctx.podApp?.(dst, url.port);
  if (!app) return undefined;
  const lines = request.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  const r = app.http({ method: 'GET', path: url.target, headers });
  const hs = { ...(r.headers ?? {}) };
  if (!Object.keys(hs).some((k) => k.toLowerCase() === 'content-length'))
    hs['content-length'] = String(Buffer.byteLength(r.body));
  const raw =
    `HTTP/1.1 ${r.status} ${http.STATUS_CODES[r.status] ?? ''}\r\n` +
    Object.entries(hs)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('') +
    `\r\n${r.body}`;
  return { status: r.status, body: r.body, raw };
}

// ---------------------------------------------------------------------------------------------------------
// 7. ipset
// ---------------------------------------------------------------------------------------------------------

/**
 * istio/istio@1.28.3 cni/pkg/ipset/ipset.go NewIPSet with config.ProbeIPSet "istio-inpod-probes"
 * (cni/pkg/config/config.go): `<name>-v4`, then `<name>-v6` with ambient.ipv6 (default true), in
 * that order (the kernel lists sets in creation order).
 */
export const ISTIO_IPSETS = ['istio-inpod-probes-v4', 'istio-inpod-probes-v6'];

/**
 * Whether istio-cni runs, decided as test/twin/tools/docker.ts decides a node's host rules (its
 * istioCni(): a DaemonSet labelled k8s-app=istio-cni-node with numberReady > 0), over the store.
 */
export function istioCniRunning(store: TwinStore): boolean {
  return store
    .list<J>({ group: 'apps', resource: 'daemonsets' }, { labelSelector: 'k8s-app=istio-cni-node' })
    .some((d) => (d.status?.numberReady ?? 0) > 0);
}

/**
 * `ipset list -n` (ipset v7.17, netshoot v0.11's Alpine 3.18): the names of the sets in the pod's
 * network namespace, one a line. A host-network pod sees the node's, which hold istio-cni's sets
 * while it runs; a pod's own netns has none. Other commands are not modelled.
 */
function runIpset(argv: string[], pod: J, store: TwinStore): ToolResult {
  const args = argv.filter((a) => a !== '-n' && a !== '-name' && a !== '--name');
  const names = argv.length !== args.length;
  if (args.length === 1 && args[0] === 'list' && names) {
    const sets = pod.spec?.hostNetwork && istioCniRunning(store) ? ISTIO_IPSETS : [];
    return { exit: 0, stdout: sets.map((s) => `${s}\n`).join(''), stderr: '' };
  }
  return {
    exit: 2,
    stdout: '',
    stderr: `ipset v7.17: twin: only \`ipset list -n\` is modelled (test/twin/pods.ts)\n`,
  };
}

// ---------------------------------------------------------------------------------------------------------
// 8. tcpdump 4.99
// ---------------------------------------------------------------------------------------------------------

/** tcpdump's stderr when it starts (the-tcpdump-group/tcpdump@tcpdump-4.99.3 tcpdump.c; checked against 4.99.3). */
function tcpdumpBanner(iface: string): string {
  // On "any", tcpdump asks for DLT_LINUX_SLL2 (tcpdump.c "Set default linktype DLT_LINUX_SLL2 when
  // capturing on the any device") and reports it.
  return iface === 'any'
    ? 'tcpdump: data link type LINUX_SLL2\ntcpdump: verbose output suppressed, use -v[v]... for full protocol decode\n' +
        'listening on any, link-type LINUX_SLL2 (Linux cooked v2), snapshot length 262144 bytes\n'
    : `tcpdump: verbose output suppressed, use -v[v]... for full protocol decode\nlistening on ${iface}, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n`;
}

/** tcpdump.c info(1) on SIGINT: one line per counter, `packet` singular for 1. */
function tcpdumpStats(n: number): string {
  const p = (k: number) => `${k} packet${k === 1 ? '' : 's'}`;
  return `${p(n)} captured\n${p(n)} received by filter\n${p(0)} dropped by kernel\n`;
}

/** The options the harness uses (`-i any -nn -A -s0 -l 'host A and host B'`); filters: `host X [and host Y …]`. */
function parseTcpdumpArgs(argv: string[]): { iface: string; hosts: string[] } | ToolResult {
  let iface = 'any';
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '-i') iface = argv[++i] ?? '';
    else if (/^-i./.test(a)) iface = a.slice(2);
    else if (a === '-s') i++;
    else if (/^-[nAlq]+$/.test(a) || /^-s\d+$/.test(a)) continue;
    else if (a.startsWith('-'))
      return {
        exit: 1,
        stdout: '',
        stderr: `tcpdump: twin: option ${a} is not modelled (test/twin/pods.ts)\n`,
      };
    else words.push(...a.split(/\s+/).filter(Boolean));
  }
  const hosts: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === 'host' && words[i + 1]) hosts.push(words[++i] ?? '');
    else if (w !== 'and')
      return {
        exit: 1,
        stdout: '',
        stderr: `tcpdump: twin: only "host A and host B" filters are modelled\n`,
      };
  }
  return { iface, hosts };
}

/** Where a capture sees packets: a host-network pod on its node, else the pod's own eth0. */
interface CaptureView {
  node?: string;
  ownIp?: string;
  objects: TwinObjects;
}

function captureView(pod: J, objects: TwinObjects): CaptureView {
  if (!pod) return { objects };
  if (pod.spec?.hostNetwork) return { node: pod.spec?.nodeName, objects };
  return { ownIp: pod.status?.podIP, objects };
}

/** The host side of a pod's veth: the CNI ptp plugin's RandomVethName, `veth%x` of 4 random bytes (derived here from the uid). */
function vethOf(pod: J): string {
  return `veth${createHash('sha256')
    .update(`veth/${pod.metadata?.uid ?? ''}`)
    .digest('hex')
    .slice(0, 8)}`;
}

interface Segment {
  /** Microseconds after the connection start. */
  at: number;
  fromClient: boolean;
  flags: 'S' | 'S.' | '.' | 'P.' | 'F.' | 'R.';
  payload: Buffer;
  /** RST answering a SYN: no options, absolute numbers. */
  refusal?: boolean;
  /** A retransmitted SYN. */
  retransmit?: boolean;
}

/** A tiny deterministic generator (xorshift32) for sequence numbers and TLS bytes. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function randomPayload(next: () => number, n: number, prefix: number[]): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = next() & 0xff;
  Buffer.from(prefix).copy(b, 0, 0, Math.min(prefix.length, n));
  return b;
}

/** A TLS record of `n` bytes (type 0x16 handshake / 0x17 application data), contents random. */
function tlsRecord(next: () => number, type: number, n: number): Buffer {
  const len = n - 5;
  return randomPayload(next, n, [type, 0x03, type === 0x16 ? 0x01 : 0x03, (len >> 8) & 0xff, len & 0xff]);
}

/**
 * The TCP segments of one connection as they cross the wire, by outcome. HBONE sizes are
 * representative of a TLS 1.3 handshake with client certificates and an HTTP/2 CONNECT, not
 * measured. SYN retransmissions follow Linux's initial RTO of 1 s, doubling.
 */
function segmentsOf(r: ConnectionRecord, hbone: boolean): Segment[] {
  const d = r.decision;
  const next = rng(r.id * 2654435761 + r.src.port);
  const segs: Segment[] = [];
  let at = 0;
  const push = (
    fromClient: boolean,
    flags: Segment['flags'],
    payload: Buffer = Buffer.alloc(0),
    gap = 15,
  ) => {
    at += gap;
    segs.push({ at, fromClient, flags, payload });
  };
  const handshake = () => {
    push(true, 'S', undefined, 0);
    push(false, 'S.');
    push(true, '.');
  };
  const synRetries = (seconds: number) => {
    push(true, 'S', undefined, 0);
    for (let rto = 1, t = 1; t < seconds; rto *= 2, t += rto)
      segs.push({ at: t * 1e6, fromClient: true, flags: 'S', payload: Buffer.alloc(0), retransmit: true });
  };
  const requests = splitRequests(r.request ?? '');
  const responses = splitResponses(r.response ?? '');
  if (d.outcome === 'timeout') {
    synRetries(d.seconds);
    return segs;
  }
  if (d.outcome === 'refused') {
    if (/^source .* is pending/.test(d.why)) return segs; // refused inside the source pod's netns
    push(true, 'S', undefined, 0);
    segs.push({ at: at + 20, fromClient: false, flags: 'R.', payload: Buffer.alloc(0), refusal: true });
    return segs;
  }
  if (hbone) {
    handshake();
    push(true, 'P.', tlsRecord(next, 0x16, 517), 400);
    push(false, '.');
    push(false, 'P.', tlsRecord(next, 0x16, 1321), 900);
    push(true, '.');
    push(true, 'P.', tlsRecord(next, 0x17, 1154), 700);
    push(true, 'P.', tlsRecord(next, 0x17, 126), 60);
    push(false, 'P.', tlsRecord(next, 0x17, 255), 500);
    push(true, '.');
    if (d.outcome === 'connected') {
      push(false, 'P.', tlsRecord(next, 0x17, 86), 300);
      requests.forEach((q, i) => {
        push(true, 'P.', tlsRecord(next, 0x17, Buffer.byteLength(q) + 9 + 22), 80);
        push(false, '.');
        const resp = responses[i];
        if (resp !== undefined) {
          push(false, 'P.', tlsRecord(next, 0x17, Buffer.byteLength(resp) + 9 + 22), 500);
          push(true, '.');
        }
      });
    } else {
      // 401 (policy) or 503 (no app): the CONNECT is answered with an error status, then both close.
      push(false, 'P.', tlsRecord(next, 0x17, 64), 400);
      push(true, '.');
    }
    push(true, 'P.', tlsRecord(next, 0x17, 24), 200);
    push(true, 'F.');
    push(false, 'F.', undefined, 300);
    push(true, '.');
    return segs;
  }
  if (d.outcome === 'reset' && isEnrolledSource(r)) {
    // Passthrough: the source's ztunnel's own connect was refused upstream.
    push(true, 'S', undefined, 0);
    segs.push({ at: at + 20, fromClient: false, flags: 'R.', payload: Buffer.alloc(0), refusal: true });
    return segs;
  }
  handshake();
  if (d.outcome === 'reset') {
    const q = requests[0] ?? `GET / HTTP/1.1\r\n\r\n`;
    push(true, 'P.', Buffer.from(q, 'latin1'), 60);
    push(false, '.');
    push(false, 'R.', undefined, 300);
    return segs;
  }
  requests.forEach((q, i) => {
    push(true, 'P.', Buffer.from(q, 'utf8'), 1200);
    push(false, '.');
    const resp = responses[i];
    if (resp !== undefined) {
      push(false, 'P.', Buffer.from(resp, 'utf8'), 700);
      push(true, '.');
    }
  });
  push(true, 'F.', undefined, 200);
  push(false, 'F.', undefined, 3000);
  push(true, '.');
  return segs;
}

function isEnrolledSource(r: ConnectionRecord): boolean {
  return !!r.src.pod?.enrolled;
}

function splitRequests(text: string): string[] {
  return text.split(/(?<=\r\n\r\n)/).filter((s) => s.trim() !== '');
}

function splitResponses(text: string): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) {
      out.push(rest);
      break;
    }
    const m = /\r\ncontent-length: *(\d+)/i.exec(rest.slice(0, end + 2));
    const len = m ? Number(m[1]) : 0;
    out.push(rest.slice(0, end + 4) + rest.slice(end + 4, end + 4 + len));
    rest = rest.slice(end + 4 + len);
  }
  return out;
}

/** IPv4 + TCP bytes of a segment, with real checksums (what -A prints from the IP header on). */
function packetBytes(
  src: [string, number],
  dst: [string, number],
  seq: number,
  ack: number,
  flags: number,
  win: number,
  options: Buffer,
  payload: Buffer,
  ipId: number,
): Buffer {
  const tcpLen = 20 + options.length;
  const tcp = Buffer.alloc(tcpLen + payload.length);
  tcp.writeUInt16BE(src[1], 0);
  tcp.writeUInt16BE(dst[1], 2);
  tcp.writeUInt32BE(seq >>> 0, 4);
  tcp.writeUInt32BE(ack >>> 0, 8);
  tcp[12] = (tcpLen / 4) << 4;
  tcp[13] = flags;
  tcp.writeUInt16BE(win, 14);
  options.copy(tcp, 20);
  payload.copy(tcp, tcpLen);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + tcp.length, 2);
  ip.writeUInt16BE(ipId & 0xffff, 4);
  ip.writeUInt16BE(0x4000, 6); // DF
  ip[8] = 64;
  ip[9] = 6;
  const a = src[0].split('.').map(Number);
  const b = dst[0].split('.').map(Number);
  Buffer.from(a).copy(ip, 12);
  Buffer.from(b).copy(ip, 16);
  ip.writeUInt16BE(checksum(ip), 10);
  const pseudo = Buffer.concat([
    ip.subarray(12, 20),
    Buffer.from([0, 6, (tcp.length >> 8) & 0xff, tcp.length & 0xff]),
    tcp,
  ]);
  tcp.writeUInt16BE(checksum(pseudo), 16);
  return Buffer.concat([ip, tcp]);
}

function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i] ?? 0) * 256 + (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * tcpdump -A (print-ascii.c ascii_print, 4.99.3): a newline, then every byte: printable ASCII,
 * space, tab and newline as is, a CR dropped before a newline (or as the last but one byte), any
 * other byte as '.'.
 */
export function asciiPrint(b: Buffer): string {
  let s = '\n';
  for (let i = 0; i < b.length; i++) {
    const c = b[i] ?? 0;
    const left = b.length - i - 1;
    if (c === 0x0d) {
      if (left > 1 && b[i + 1] !== 0x0a) s += '.';
    } else if ((c > 0x20 && c < 0x7f) || c === 0x09 || c === 0x20 || c === 0x0a) s += String.fromCharCode(c);
    else s += '.';
  }
  return s;
}

/** print-http.c / util-print.c txtproto_print without -v: ": HTTP" and the first line of a request or response. */
function httpSuffix(payload: Buffer): string {
  const text = payload.toString('latin1');
  const first = text.split(/\r?\n/)[0] ?? '';
  const [tok1 = '', tok2 = ''] = first.split(' ');
  const isReq =
    /^[A-Z_-]+$/.test(tok1) &&
    ['GET', 'PUT', 'POST', 'HEAD', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'].includes(tok1);
  const isResp = /^\d{3}$/.test(tok2);
  return isReq || isResp ? `: HTTP: ${first}` : ': HTTP';
}

function tcpdumpTime(d: Date, extraUs: number): string {
  const us = d.getUTCMilliseconds() * 1000 + Math.floor(extraUs);
  const t = new Date(d.getTime() - d.getUTCMilliseconds() + Math.floor(us / 1e6) * 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())}.${pad(us % 1e6, 6)}`;
}

/**
 * The capture of `records` between `hosts` that started in [from, to], as `tcpdump -i any -nn -A`
 * prints it (print-sll.c "%-5s %-3s " interface and direction, print-tcp.c header, relative
 * sequence numbers after the handshake). A host-network capture on node N sees each packet on every
 * interface of N it crosses: the source pod's veth (In), eth0 (Out) when it leaves the node, eth0
 * (In) when it arrives, the destination pod's veth (Out). A dropped SYN is seen only where it
 * entered (the twin does not know which node's policy dropped it). Packets after `to` have not
 * happened yet.
 */
export function renderCapture(
  records: ConnectionRecord[],
  view: CaptureView,
  hosts: string[],
  from: Date,
  to: Date,
): { text: string; count: number } {
  let text = '';
  let count = 0;
  const nodeOfIp = (ip: string): string | undefined => podForIp(view.objects, ip)?.spec?.nodeName;
  for (const r of records) {
    if (r.start.getTime() < from.getTime()) continue;
    const hbone = r.decision.hbone;
    const srcEnrolled = isEnrolledSource(r);
    const clientPort = srcEnrolled ? ztunnelPort(r.src.port, 'outbound') : r.src.port;
    const client: [string, number] = [r.src.ip, clientPort];
    const server: [string, number] = [r.dst.ip, hbone ? 15008 : r.dst.port];
    if (!hosts.every((h) => h === client[0] || h === server[0])) continue;
    const srcPod = podForIp(view.objects, client[0]);
    const dstPod = podForIp(view.objects, server[0]);
    const srcNode = nodeOfIp(client[0]);
    const dstNode = nodeOfIp(server[0]);
    const segs = segmentsOf(r, hbone);
    const next = rng(r.id * 40503 + 7);
    const isn = { c: next(), s: next() };
    const ts = { c: next() >>> 1, s: next() >>> 1 };
    const ipid = { c: next() & 0xffff, s: next() & 0xffff };
    const sent = { c: 0, s: 0 };
    for (const seg of segs) {
      const when = r.start.getTime() + seg.at / 1000;
      if (when > to.getTime()) break;
      const me = seg.fromClient ? 'c' : 's';
      const peer = seg.fromClient ? 's' : 'c';
      const from_ = seg.fromClient ? client : server;
      const dest = seg.fromClient ? server : client;
      const tsval = ts[me] + Math.floor(seg.at / 1000);
      const tsecr = seg.flags === 'S' ? 0 : ts[peer] + Math.floor(seg.at / 1000);
      const bits = { S: 0x02, 'S.': 0x12, '.': 0x10, 'P.': 0x18, 'F.': 0x11, 'R.': 0x14 }[seg.flags];
      let head: string;
      let options: Buffer;
      let seq: number;
      let ack: number;
      let win: number;
      if (seg.flags === 'S' || seg.flags === 'S.') {
        seq = isn[me];
        ack = seg.flags === 'S.' ? isn[peer] + 1 : 0;
        win = seg.fromClient ? 64240 : 65160;
        options = Buffer.alloc(20);
        Buffer.from([2, 4, 0x05, 0xb4, 4, 2, 8, 10]).copy(options, 0);
        options.writeUInt32BE(tsval >>> 0, 8);
        options.writeUInt32BE(tsecr >>> 0, 12);
        Buffer.from([1, 3, 3, 10]).copy(options, 16);
        head =
          `Flags [${seg.flags}], seq ${seq >>> 0}${seg.flags === 'S.' ? `, ack ${(ack >>> 0).toString()}` : ''}, win ${win}, ` +
          `options [mss 1460,sackOK,TS val ${tsval >>> 0} ecr ${tsecr >>> 0},nop,wscale 10], length 0`;
      } else if (seg.refusal) {
        seq = 0;
        ack = isn[peer] + 1;
        win = 0;
        options = Buffer.alloc(0);
        head = `Flags [R.], seq 0, ack ${ack >>> 0}, win 0, length 0`;
      } else {
        seq = isn[me] + 1 + sent[me];
        ack = isn[peer] + 1 + sent[peer];
        win = seg.fromClient ? 63 : 64;
        options = Buffer.alloc(12);
        Buffer.from([1, 1, 8, 10]).copy(options, 0);
        options.writeUInt32BE(tsval >>> 0, 4);
        options.writeUInt32BE(tsecr >>> 0, 8);
        const relSeq = sent[me] + 1;
        const relAck = sent[peer] + 1;
        const len = seg.payload.length;
        const seqText =
          len > 0 ? `seq ${relSeq}:${relSeq + len}, ` : seg.flags === '.' ? '' : `seq ${relSeq}, `;
        head = `Flags [${seg.flags}], ${seqText}ack ${relAck}, win ${win}, options [nop,nop,TS val ${tsval >>> 0} ecr ${tsecr >>> 0}], length ${len}`;
        if (len > 0 && [from_[1], dest[1]].some((p) => p === 80 || p === 8080))
          head += httpSuffix(seg.payload);
      }
      const bytes = packetBytes(from_, dest, seq, ack, bits ?? 0, win, options, seg.payload, ipid[me]++);
      if (seg.flags !== 'S' || !seg.retransmit) sent[me] += seg.payload.length + (seg.flags === 'F.' ? 1 : 0);
      // Interfaces this packet crosses that the capture sees, in order.
      const fromPod = seg.fromClient ? srcPod : dstPod;
      const toPod = seg.fromClient ? dstPod : srcPod;
      const fromNode = seg.fromClient ? srcNode : dstNode;
      const toNode = seg.fromClient ? dstNode : srcNode;
      const dropped = r.decision.outcome === 'timeout';
      const hops: [string, string][] = [];
      if (view.node) {
        if (fromNode === view.node && fromPod) hops.push([vethOf(fromPod), 'In']);
        if (!dropped) {
          if (fromNode === view.node && toNode !== view.node) hops.push(['eth0', 'Out']);
          if (toNode === view.node && fromNode !== view.node) hops.push(['eth0', 'In']);
          if (toNode === view.node && toPod) hops.push([vethOf(toPod), 'Out']);
        }
      } else if (view.ownIp && (from_[0] === view.ownIp || (!dropped && dest[0] === view.ownIp)))
        hops.push(['eth0', from_[0] === view.ownIp ? 'Out' : 'In']);
      hops.forEach(([iface, dir], k) => {
        const name = iface.length < 5 ? iface.padEnd(5) : iface;
        text += `${tcpdumpTime(r.start, seg.at + k * 4)} ${name} ${dir.padEnd(3)} IP ${from_[0]}.${from_[1]} > ${dest[0]}.${dest[1]}: ${head}${asciiPrint(bytes)}\n`;
        count += 1;
      });
    }
  }
  return { text, count };
}

// ---------------------------------------------------------------------------------------------------------
// 9. The stand-in tools' files
// ---------------------------------------------------------------------------------------------------------

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A stand-in that forwards its argv to the runtime and prints the answer, with bash builtins only
 * (no process but bash itself): argv as `<bytes>:<arg>,` over /dev/tcp in an HTTP/1.0 POST; the
 * answer `<exit> <stdout bytes> <stderr bytes>\n<stdout><stderr>`, printed stderr first.
 */
function shimScript(tool: string, port: number, token: string, podKey: string): string {
  return `#!/bin/bash
# The twin's ${tool} (test/twin/pods.ts): hands its argv to the pod runtime and prints its answer.
export LC_ALL=C
body=
for a in "$@"; do body+="\${#a}:$a,"; done
{ exec 3<>/dev/tcp/127.0.0.1/${port}; } 2>/dev/null || { echo "${tool}: the twin's pod runtime is not reachable" >&2; exit 2; }
printf 'POST /v1/run/${tool} HTTP/1.0\\r\\nHost: twin\\r\\nX-Twin-Token: %s\\r\\nX-Twin-Pod: %s\\r\\nContent-Length: %d\\r\\n\\r\\n%s' ${shQuote(token)} ${shQuote(podKey)} "\${#body}" "$body" >&3
while IFS= read -r -u 3 line; do [ -n "\${line%$'\\r'}" ] || break; done
read -r -u 3 code nout nerr
[ -n "$code" ] || { echo "${tool}: no answer from the twin's pod runtime" >&2; exit 2; }
out= err=
[ "$nout" -gt 0 ] && IFS= read -r -u 3 -N "$nout" out
[ "$nerr" -gt 0 ] && IFS= read -r -u 3 -N "$nerr" err
exec 3<&-
printf '%s' "$err" >&2
printf '%s' "$out"
exit "$code"
`;
}

/**
 * tcpdump: bash reads whether it started with SIGHUP ignored (nohup) before handing over to node,
 * which resets inherited SIG_IGN dispositions at startup; the node program ignores SIGHUP again if
 * so, so the exec session's hangup spares it as it spares a real nohup'd tcpdump.
 */
function tcpdumpWrapper(port: number, token: string, podKey: string, program: string): string {
  return `#!/bin/bash
# The twin's tcpdump (test/twin/pods.ts).
hup=0
while read -r k v _; do if [ "$k" = SigIgn: ]; then hup=$(( 0x$v & 1 )); break; fi; done </proc/$$/status
export TWIN_HUP_IGNORED=$hup TWIN_ENDPOINT_PORT=${port} TWIN_TOKEN=${shQuote(token)} TWIN_POD=${shQuote(podKey)}
exec ${shQuote(process.execPath)} ${shQuote(program)} "$@"
`;
}

/** The node side of tcpdump: registers the capture, prints the banner, and on SIGINT/SIGTERM the packets and counters. */
const TCPDUMP_PROGRAM = `'use strict';
// The twin's tcpdump process (written by test/twin/pods.ts).
const http = require('node:http');
const env = process.env;
if (env.TWIN_HUP_IGNORED === '1') process.on('SIGHUP', () => {});
const keepAlive = setInterval(() => {}, 1 << 30);
function call(path, body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request(
      { host: '127.0.0.1', port: Number(env.TWIN_ENDPOINT_PORT), path, method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data),
          'x-twin-token': env.TWIN_TOKEN, 'x-twin-pod': env.TWIN_POD } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => { try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))); } catch (e) { reject(e); } });
      });
    req.on('error', reject);
    req.end(data);
  });
}
function finish(r) {
  clearInterval(keepAlive);
  process.stdout.write(r.stdout || '', () => process.stderr.write(r.stderr || '', () => process.exit(r.exit || 0)));
}
const started = call('/v1/tcpdump/start', { argv: process.argv.slice(2) }).then((r) => {
  if (!r.id) { finish(r); return undefined; }
  process.stderr.write(r.stderr);
  return r.id;
}, (e) => finish({ exit: 1, stdout: '', stderr: 'tcpdump: twin: ' + e.message + '\\n' }));
let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  const id = await started;
  if (!id) return;
  try { finish(await call('/v1/tcpdump/stop', { id })); }
  catch (e) { finish({ exit: 1, stdout: '', stderr: 'tcpdump: twin: ' + e.message + '\\n' }); }
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
`;
