import { describe, expect, it } from 'vitest';
import { ambientSwitch } from './ambient-values.ts';

/**
 * Each row was rendered with `helm template` (helm v4.1.4) from istio/istio@1.28.3
 * manifests/charts/istio-cni and istio-control/istio-discovery, reading AMBIENT_ENABLED in the
 * istio-cni-config ConfigMap and PILOT_ENABLE_AMBIENT in the istiod Deployment's env
 * (`--show-only templates/deployment.yaml`).
 */
describe('ambient switched on by a release’s values, as the 1.28 charts decide', () => {
  it.each([
    [{}, false],
    [{ profile: 'ambient' }, true],
    [{ global: { profile: 'ambient' } }, true],
    [{ ambient: { enabled: true } }, true],
    [{ cni: { ambient: { enabled: true } } }, true],
    [{ profile: 'ambient', ambient: { enabled: false } }, true], // the profile's cni.ambient wins
    [{ profile: 'ambient', cni: { ambient: { enabled: false } } }, false],
    [{ ambient: { enabled: true }, cni: { ambient: { enabled: false } } }, false],
    [{ ambient: { enabled: false }, cni: { ambient: { enabled: true } } }, true],
    [{ ambient: { enabled: 'True' } }, true],
    [{ ambient: { enabled: 'yes' } }, false], // rendered "yes"; viper.GetBool reads false
    [{ profile: 'demo' }, false],
    [{ profile: 'ambient', cni: { ambient: { enabled: null } } }, false], // null deletes: rendered ""
  ])('cni %j → %s', (values, on) => {
    expect(ambientSwitch('cni', values).on).toBe(on);
  });

  it.each([
    [{}, false],
    [{ profile: 'ambient' }, true],
    [{ global: { profile: 'ambient' } }, true],
    [{ env: { PILOT_ENABLE_AMBIENT: 'true' } }, true],
    [{ pilot: { env: { PILOT_ENABLE_AMBIENT: true } } }, true],
    [{ profile: 'ambient', pilot: { env: { PILOT_ENABLE_AMBIENT: false } } }, false],
    [{ profile: 'ambient', env: { PILOT_ENABLE_AMBIENT: 'false' } }, true], // the profile's pilot.env wins
    [{ env: { PILOT_ENABLE_AMBIENT: 'true' }, pilot: { env: { PILOT_ENABLE_AMBIENT: false } } }, false],
    [{ profile: 'ambient', pilot: { env: { PILOT_ENABLE_AMBIENT: null } } }, false], // rendered value
  ])('istiod %j → %s', (values, on) => {
    expect(ambientSwitch('istiod', values).on).toBe(on);
  });

  it('says what it saw', () => {
    expect(ambientSwitch('cni', { profile: 'ambient', cni: { ambient: { enabled: false } } }).seen).toBe(
      'ambient.enabled = false (profile ambient)',
    );
    expect(ambientSwitch('istiod', {}).seen).toBe('env.PILOT_ENABLE_AMBIENT = not set (no profile)');
  });
});
