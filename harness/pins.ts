import { readFileSync } from 'node:fs';
import type { Pins } from './pins-schema.ts';

/**
 * Pinned tools and images (pins.json at the repository root). Sources:
 * - kind v0.30.0: default node image kindest/node:v1.34.0@sha256:7416a61b… (kind
 *   pkg/apis/config/defaults/image.go at v0.30.0); Kubernetes 1.34 is inside Istio 1.28's 1.30-1.34.
 *   Binary SHA-256s as published next to the release assets (mirrored in f110/mono
 *   build/rules/kind/assets.bzl). A wrong pin fails closed: the download is refused.
 * - helm v4.2.1: SHA-256s as published next to the release archives (the same pins Argo CD keeps in
 *   hack/installers/checksums/helm-v4.2.1-*.tar.gz.sha256). Helm 3 (3.7+) on PATH is used as well.
 * - metrics-server chart 3.13.1 = v0.8.1, the release for Kubernetes 1.31-1.34 (v0.9.0 needs 1.34+ only).
 * - agnhost 2.53 (netexec server, curl client; alpine base with /bin/sh): the digest is the one a
 *   cluster resolved for registry.k8s.io/e2e-test-images/agnhost:2.53 (a pod's status.imageID), seen
 *   in several public projects; the 2.66.1 digest in circulation has a single third-party source.
 * - netshoot v0.11 (tcpdump, for the MTLS-03 wire capture), digest as pulled from Docker Hub.
 */
export type { Pins } from './pins-schema.ts';
export type ToolPin = Pins['kind'];

/**
 * pins.json as the repository has it. Its shape is checked by harness/pins.test.ts against
 * PinsSchema (pins-schema.ts) rather than at every start: the file is the project's own, and
 * validating it here would load zod for commands that need nothing else of it.
 */
export const PINS = JSON.parse(readFileSync(new URL('../pins.json', import.meta.url), 'utf8')) as Pins;

/** Splits "repo:tag@sha256:..." into the parts Helm values want. */
export function splitImage(ref: string): { repository: string; tag: string; digest: string } {
  const m = /^(.+?):([^:@/]+)@(sha256:[a-f0-9]{64})$/.exec(ref);
  if (!m) throw new Error(`image ${ref} is not pinned as repo:tag@sha256:<digest>`);
  return { repository: m[1] ?? '', tag: m[2] ?? '', digest: m[3] ?? '' };
}
