/**
 * Whether a release's Helm values switch ambient mode on in the Istio 1.28 istiod and cni charts.
 *
 * How the charts decide (istio/istio@1.28.3, manifests/charts, checked by rendering the charts at
 * that tag with helm v4.1.4 `helm template`):
 * - `profile` or else `global.profile` names a file `files/profile-<name>.yaml` that
 *   templates/zzz_profile.yaml merges under the user's values. Of the profiles shipped
 *   (manifests/helm-profiles/), only `ambient` touches the switches: it sets
 *   `cni.ambient.enabled: true` and `pilot.env.PILOT_ENABLE_AMBIENT: "true"`.
 * - Then templates/zzy_descope_legacy.yaml merges `.cni` (cni chart) or `.pilot` (istiod chart)
 *   over the top level, so `cni.ambient.enabled` wins over `ambient.enabled`, and
 *   `pilot.env.X` over `env.X`, false included (rendered: `ambient.enabled=true
 *   cni.ambient.enabled=false` gives AMBIENT_ENABLED "false"; `profile=ambient
 *   ambient.enabled=false` gives "true").
 * - cni: configmap-cni.yaml writes `.Values.ambient.enabled` as AMBIENT_ENABLED, which the agent
 *   reads with viper.GetBool (cni/pkg/cmd/root.go). istiod: deployment.yaml writes `.Values.env`
 *   as container env; PILOT_ENABLE_AMBIENT is a boolean feature flag. Both parse like Go's
 *   strconv.ParseBool: 1, t, T, TRUE, true, True.
 */

export type AmbientChart = 'istiod' | 'cni';

/** What the ambient profile sets that matters here (manifests/helm-profiles/ambient.yaml). */
const AMBIENT_PROFILE: Record<string, unknown> = {
  cni: { ambient: { enabled: true } },
  pilot: { env: { PILOT_ENABLE_AMBIENT: 'true' } },
};

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined) continue;
    // A null in user values deletes the key, defaults and profile included (Helm's coalescing;
    // rendered: profile=ambient with cni.ambient.enabled=null gives AMBIENT_ENABLED "").
    if (v === null) {
      delete out[k];
      continue;
    }
    const prev = out[k];
    out[k] = isPlainObject(prev) && isPlainObject(v) ? merge(prev, v) : v;
  }
  return out;
}

function at(root: unknown, ...keys: string[]): unknown {
  let cur = root;
  for (const k of keys) cur = isPlainObject(cur) ? cur[k] : undefined;
  return cur;
}

function truthy(v: unknown): boolean {
  if (v === true) return true;
  if (typeof v === 'number') return v === 1;
  return typeof v === 'string' && TRUE.has(v);
}

/**
 * `on`: the chart would enable ambient with these values. `seen`: the switch's final value and
 * where it came from, for a message.
 */
export function ambientSwitch(
  chart: AmbientChart,
  values: Record<string, unknown>,
): { on: boolean; seen: string } {
  const profile = [values.profile, at(values, 'global', 'profile')].find(
    (p): p is string => typeof p === 'string' && p !== '',
  );
  const base = profile === 'ambient' ? AMBIENT_PROFILE : {};
  const merged = merge(base, values);
  const scope = chart === 'cni' ? 'cni' : 'pilot';
  const scoped = at(merged, scope);
  const final = isPlainObject(scoped) ? merge(merged, scoped) : merged;
  const value = chart === 'cni' ? at(final, 'ambient', 'enabled') : at(final, 'env', 'PILOT_ENABLE_AMBIENT');
  const key = chart === 'cni' ? 'ambient.enabled' : 'env.PILOT_ENABLE_AMBIENT';
  const from = profile === undefined ? 'no profile' : `profile ${profile}`;
  return {
    on: truthy(value),
    seen: `${key} = ${value === undefined ? 'not set' : JSON.stringify(value)} (${from})`,
  };
}
