import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UserInputError } from '../errors.ts';
import { readManifests } from './manifests.ts';
import { ChunkedWriter, MATRIX_CELL_LIMIT, netpolMatrix } from './matrix-command.ts';
import { countCells, ReachabilityModel } from './model.ts';
import { LEGEND, renderExpected } from './render.ts';

const EXAMPLES = path.join(import.meta.dirname, '../../examples');

/** A stream that keeps what is written, and how many writes it took. */
function sink(): { stream: Writable; text: () => string; writes: () => number; largest: () => number } {
  const parts: string[] = [];
  let largest = 0;
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      parts.push(chunk.toString());
      largest = Math.max(largest, chunk.length);
      cb();
    },
  });
  return { stream, text: () => parts.join(''), writes: () => parts.length, largest: () => largest };
}

/** `count` pods in one namespace, each serving `ports`, as a JSON List file; returns the folder. */
function podsFile(count: number, ports: number[]): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mx-'));
  const items = Array.from({ length: count }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `p-${i}`, namespace: 'big' },
    spec: { containers: [{ name: 'c', ports: ports.map((containerPort) => ({ containerPort })) }] },
    status: { podIP: `10.1.${i >> 8}.${i & 255}` },
  }));
  writeFileSync(path.join(dir, 'pods.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  return dir;
}

describe('netpol matrix output', () => {
  it('streams --json exactly as JSON.stringify({cells}, null, 2) printed the whole matrix', async () => {
    const out = sink();
    const err = sink();
    expect(await netpolMatrix({ file: [EXAMPLES], json: true }, out.stream, err.stream)).toBe(0);
    const cells = new ReachabilityModel(readManifests([EXAMPLES]).state).matrix();
    const wire = cells.map((c) => ({
      from: c.from,
      to: c.to,
      port: c.port,
      protocol: c.protocol,
      allowed: c.allowed,
      outcome: c.outcome,
      judgedPort: c.judgedPort,
      reason: c.reason,
    }));
    expect(out.text()).toBe(`${JSON.stringify({ hostTraffic: 'judged', cells: wire }, null, 2)}\n`);
    expect(err.text()).toBe('');
  });

  it('streams the tables and --explain exactly as the whole-matrix rendering did', async () => {
    const out = sink();
    expect(await netpolMatrix({ file: [EXAMPLES], explain: true }, out.stream, sink().stream)).toBe(0);
    const model = new ReachabilityModel(readManifests([EXAMPLES]).state);
    const cells = model.matrix();
    // The header: a line per pod (its part in the mesh), per host source, and the host-traffic
    // assumption when there are host sources.
    const text = out.text();
    const header = text.slice(0, text.indexOf('\n\nexpected TCP '));
    const lines = header.split('\n');
    expect(lines.slice(0, model.pods.length)).toEqual(
      model.pods.map((p) =>
        expect.stringMatching(new RegExp(`^${p.namespace}/${p.name}: (ambient|not enrolled|sidecar) \\(`)),
      ),
    );
    expect(lines.slice(model.pods.length, model.pods.length + model.hostSources.length)).toEqual(
      model.hostSources.map((h) =>
        expect.stringMatching(new RegExp(`^${h.key.replace(/[[\]]/g, '\\$&')}: `)),
      ),
    );
    if (model.hostSources.length) expect(lines.at(-1)).toMatch(/^host traffic: judged \(the default\): /);
    expect(text).toBe(
      `${header}\n\n${renderExpected(cells)}\n\n${LEGEND}\n` +
        `\n${cells.map((c) => `${c.from} -> ${c.to}:${c.port} ${c.outcome.toUpperCase()}: ${c.reason}`).join('\n')}\n`,
    );
  });

  it('says the host-traffic mode in --json, and evaluates a port given twice once', async () => {
    const out = sink();
    const probe = path.join(EXAMPLES, 'netpol', 'probe-allowance.yaml');
    await netpolMatrix(
      { file: [probe], json: true, hostTraffic: 'exempt', port: ['8000', '8000'] },
      out.stream,
      sink().stream,
    );
    const once = sink();
    await netpolMatrix(
      { file: [probe], json: true, hostTraffic: 'exempt', port: ['8000'] },
      once.stream,
      sink().stream,
    );
    expect(JSON.parse(out.text())).toMatchObject({ hostTraffic: 'exempt' });
    expect(out.text()).toBe(once.text());
  });

  it('says so when there is no cell to print, instead of blank lines', async () => {
    const out = sink();
    await netpolMatrix({ file: [podsFile(2, [80])], port: ['1234'] }, out.stream, sink().stream);
    expect(out.text()).not.toContain('no cells');
    const none = sink();
    await netpolMatrix({ file: [podsFile(1, [80])] }, none.stream, sink().stream);
    expect(none.text()).toContain('no cells: no source has a connection to evaluate');
  });

  it('fails with exit 1 and one message when the output cannot be written (ENOSPC), unlike a reader that went away (EPIPE)', async () => {
    const failing = (code: string) =>
      new Writable({
        write(_chunk, _enc, cb) {
          cb(Object.assign(new Error(`write ${code}`), { code }));
        },
      });
    await expect(
      netpolMatrix({ file: [EXAMPLES], json: true }, failing('ENOSPC'), sink().stream),
    ).rejects.toThrow('netpol matrix: could not write the output: write ENOSPC');
    expect(await netpolMatrix({ file: [EXAMPLES], json: true }, failing('EPIPE'), sink().stream)).toBe(0);
  });

  it('prints an empty cell list as valid JSON', async () => {
    const out = sink();
    await netpolMatrix({ file: [podsFile(1, [80])], json: true }, out.stream, sink().stream);
    expect(JSON.parse(out.text())).toEqual({ hostTraffic: 'judged', cells: [] });
  });

  it('writes a large matrix in bounded chunks instead of one string (2,000 pods used to throw RangeError)', async () => {
    const out = sink();
    await netpolMatrix({ file: [podsFile(150, [80])], json: true }, out.stream, sink().stream);
    const parsed = JSON.parse(out.text()) as { cells: unknown[] };
    expect(parsed.cells).toHaveLength(150 * 149);
    expect(out.writes()).toBeGreaterThan(20);
    expect(out.largest()).toBeLessThan(70 * 1024);
  });

  it('stops quietly when the reader goes away (EPIPE), without throwing or hanging', async () => {
    let writes = 0;
    const broken = new Writable({
      write(_chunk, _enc, cb) {
        writes++;
        cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    expect(await netpolMatrix({ file: [podsFile(60, [80])], json: true }, broken, sink().stream)).toBe(0);
    expect(writes).toBe(1);
    const w = new ChunkedWriter(broken, 1);
    await w.write('more');
    await w.flush();
    expect(w.closed).toBe(true);
  });
});

describe('the cell limit', () => {
  it('counts cells without building the model, as many as matrix() evaluates', () => {
    const { state } = readManifests([EXAMPLES]);
    const model = new ReachabilityModel(state);
    expect(countCells(state.pods)).toBe(model.matrix().length);
    expect(countCells(state.pods, [80, 81])).toBe(model.matrix([80, 81]).length);
    expect(model.cellCount([3100])).toBe(model.matrix([3100]).length);
  });

  it(`refuses more than ${MATRIX_CELL_LIMIT.toLocaleString('en-US')} cells naming the limit, the count and how to narrow the question; --port narrows it`, async () => {
    const folder = podsFile(400, [80, 9090]);
    let error: unknown;
    const out = sink();
    try {
      await netpolMatrix({ file: [folder], json: true }, out.stream, sink().stream);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UserInputError);
    const e = error as UserInputError;
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe('the matrix would have 319,200 cells, more than the limit of 250,000');
    expect(e.details.seen).toBe(
      '400 pods (not on the host network) × 399 destinations each × each destination’s container ports = 319,200 cells',
    );
    expect(e.details.fix).toContain('--port <n>');
    expect(e.details.fix).toContain('fewer files or folders');
    expect(out.text()).toBe('');
    const narrowed = sink();
    expect(await netpolMatrix({ file: [folder], port: ['80'] }, narrowed.stream, sink().stream)).toBe(0);
    expect(narrowed.text()).toContain('expected TCP 80');
  });

  it('refuses a --port that is not a plain port number', async () => {
    for (const p of ['http', '0', '65536', '1e3', ' 80'])
      await expect(
        netpolMatrix({ file: [EXAMPLES], port: [p] }, sink().stream, sink().stream),
      ).rejects.toThrow(`--port ${p} is not a port`);
  });
});
