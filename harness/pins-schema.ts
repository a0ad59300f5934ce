import { z } from 'zod';

/** The shape of pins.json (see harness/pins.ts for the sources of each pin). */
export const PinsSchema = z.object({
  istio: z.object({ version: z.string(), supportedKubernetes: z.array(z.string()) }),
  kind: z.object({ version: z.string(), url: z.string(), sha256: z.record(z.string(), z.string()) }),
  helm: z.object({ version: z.string(), url: z.string(), sha256: z.record(z.string(), z.string()) }),
  nodeImage: z.string(),
  metricsServer: z.object({
    chartRepository: z.string(),
    chart: z.string(),
    chartVersion: z.string(),
    image: z.string(),
  }),
  images: z.object({ agnhost: z.string(), netshoot: z.string() }),
});

export type Pins = z.infer<typeof PinsSchema>;
