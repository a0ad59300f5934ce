import { execFile } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify, expectedClass } from './outcome.ts';
import { buildProbeScript, parseProbeOutput, reproCommand } from './script.ts';

/**
 * The probe script runs here with the real sh and curl against loopback servers that behave like
 * agnhost netexec (answers), a closed port (refused), a server that resets (ztunnel's denial) and
 * one that never answers (dropped): its real output is what the parser must read.
 */
const run = promisify(execFile);
const servers: net.Server[] = [];
let answer = 0;
let reset = 0;
let silent = 0;
let closed = 0;

async function listen(server: net.Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  answer = await listen(
    http.createServer((req, res) => {
      if (req.url === '/hostname') res.end('server-pod-7f9c');
      else if (req.url === '/clientip')
        res.end(`${req.socket.remoteAddress ?? ''}:${req.socket.remotePort ?? 0}`);
      else res.writeHead(404).end();
    }),
  );
  reset = await listen(net.createServer((s) => s.once('data', () => s.resetAndDestroy())));
  silent = await listen(net.createServer(() => undefined));
  const tmp = net.createServer();
  closed = await listen(tmp);
  await new Promise<void>((r) => tmp.close(() => r()));
  servers.pop();
});
afterAll(() => {
  for (const s of servers) s.close();
});

describe('probe script with real curl', () => {
  it('reads connected, refused, reset and timeout in one batched exec', async () => {
    const specs = [
      { id: 'c1', ip: '127.0.0.1', port: answer },
      { id: 'c2', ip: '127.0.0.1', port: closed },
      { id: 'c3', ip: '127.0.0.1', port: reset },
      { id: 'c4', ip: '127.0.0.1', port: silent },
    ];
    const script = buildProbeScript(specs, { connectSeconds: 1, maxSeconds: 2 });
    const { stdout } = await run('sh', ['-c', script], { timeout: 20_000 });
    const results = parseProbeOutput(
      stdout,
      specs.map((s) => s.id),
    );
    expect(results.map((r) => [r.id, r.class, r.exitCode])).toEqual([
      ['c1', 'connected', 0],
      ['c2', 'refused', 7],
      ['c3', 'reset', 56],
      ['c4', 'timeout', 28],
    ]);
    expect(results[0]).toMatchObject({ answeredBy: 'server-pod-7f9c', clientIp: '127.0.0.1', httpCode: 200 });
    expect(results[1]?.detail).toMatch(/curl 7: connection refused; curl: \(7\) Failed to connect/);
    expect(results[3]?.elapsedMs).toBeGreaterThanOrEqual(1500);
  });

  it('takes the time from curl’s own report, so a 10 s ztunnel close is recognised without waiting 10 s', () => {
    // The shape of real curl 7.88's output for a reset after 10 s: its error line, then the
    // write-out "000 <seconds>" (seen above against the resetting server, which reports ~0 s).
    const out = Buffer.from('curl: (56) Recv failure: Connection reset by peer\n000 10.004211\n').toString(
      'base64',
    );
    const [r] = parseProbeOutput(`PROBE m1 rc=56 out=${out}\n`, ['m1']);
    expect(r).toMatchObject({ class: 'timeout', exitCode: 56, elapsedMs: 10004.211 });
    const fast = Buffer.from('curl: (56) Recv failure: Connection reset by peer\n000 0.002100\n').toString(
      'base64',
    );
    expect(parseProbeOutput(`PROBE m2 rc=56 out=${fast}\n`, ['m2'])[0]).toMatchObject({ class: 'reset' });
  });

  it('a probe missing from the output is reported, not invented', () => {
    expect(parseProbeOutput('garbage\n', ['x'])[0]).toMatchObject({
      class: 'other',
      detail: 'no output for this probe (exec failed or was cut off)',
    });
  });

  it('refuses ids or addresses that could inject into the shell', () => {
    expect(() => buildProbeScript([{ id: 'a;rm', ip: '1.2.3.4', port: 80 }])).toThrow(/unsafe/);
    expect(() => buildProbeScript([{ id: 'a', ip: '$(x)', port: 80 }])).toThrow(/unsafe/);
  });

  it('gives a copy-paste reproduction', () => {
    expect(reproCommand('netpol-02-ab1', 'client', 'client', { id: 'x', ip: '10.244.1.7', port: 80 })).toBe(
      "kubectl exec -n netpol-02-ab1 client -c client -- curl -sS --fail-early --connect-timeout 5 --max-time 12 -w '\\n%{http_code} %{time_total}\\n' http://10.244.1.7:80/hostname http://10.244.1.7:80/clientip",
    );
  });
});

describe('outcome classes', () => {
  it('a reset after ~10 s is ztunnel giving up on a dropped HBONE connect: a timeout', () => {
    expect(classify(56, 0, 10_020).class).toBe('timeout');
    expect(classify(52, 0, 10_020).detail).toContain('10 s HBONE connect timeout');
    expect(classify(56, 0, 40).class).toBe('reset');
    expect(classify(0, 503, 40).class).toBe('other');
    expect(classify(6, 0, 40).class).toBe('dns-error');
    expect(classify(35, 0, 40).class).toBe('other');
  });
  it('maps model outcomes to what a probe sees', () => {
    expect([expectedClass('allow'), expectedClass('drop'), expectedClass('deny')]).toEqual([
      'connected',
      'timeout',
      'reset',
    ]);
  });
});
