import { dumpYaml, loadYaml } from '@kubernetes/client-node';
import { parse } from 'yaml';

/**
 * The boundary between Kubernetes JSON (what manifests, the model and the API wire use) and
 * @kubernetes/client-node's typed models, which rename some fields: NetworkPolicy rules' `from`
 * is `_from` in the model (V1NetworkPolicyIngressRule). Passing wire JSON where a typed model is
 * expected drops such fields silently (an ingress rule without `from` allows every source), so
 * everything sent or read goes through these two functions.
 */

export interface WireObject {
  apiVersion: string;
  kind: string;
  metadata?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Wire JSON -> the client's typed model (apiVersion and kind select the model). */
export function toTyped<T>(obj: { apiVersion: string; kind: string }): T {
  return loadYaml<T>(JSON.stringify(obj));
}

/** The client's typed model -> wire JSON. List items come without apiVersion and kind: pass them. */
export function toWire(typed: object, apiVersion: string, kind: string): WireObject {
  return parse(dumpYaml({ ...typed, apiVersion, kind })) as WireObject;
}
