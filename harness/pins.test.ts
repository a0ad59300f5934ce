import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PINS } from './pins.ts';
import { PinsSchema } from './pins-schema.ts';

describe('pins.json', () => {
  const raw: unknown = JSON.parse(readFileSync(new URL('../pins.json', import.meta.url), 'utf8'));
  it('has the shape the code reads (checked here, not at every start)', () => {
    expect(PinsSchema.extend({ $comment: z.string().optional() }).strict().parse(raw)).toEqual(PINS);
  });
  it('pins every image by digest and every tool binary by a SHA-256', () => {
    for (const image of [PINS.nodeImage, PINS.metricsServer.image, PINS.images.agnhost, PINS.images.netshoot])
      expect(image).toMatch(/@sha256:[0-9a-f]{64}$/);
    for (const tool of [PINS.kind, PINS.helm]) {
      expect(Object.keys(tool.sha256).length).toBeGreaterThan(0);
      for (const sum of Object.values(tool.sha256)) expect(sum).toMatch(/^[0-9a-f]{64}$/);
    }
  });
});
