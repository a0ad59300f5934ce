/**
 * The twin API server's errors: meta/v1 Status objects in the shapes and message forms of
 * kubernetes/apimachinery v0.34.0 pkg/api/errors/errors.go (NewNotFound, NewAlreadyExists,
 * NewConflict, NewForbidden, NewInvalid, NewBadRequest, NewMethodNotSupported, NewResourceExpired)
 * and pkg/util/validation/field/errors.go (the "<field>: <Type>: <value>: <detail>" of a cause).
 * Re-expressed from the upstream sources, not copied.
 */

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  /** As upstream: the resource (plural) for NotFound/AlreadyExists/Conflict/Forbidden, the Kind for Invalid. */
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** Thrown by the store and the HTTP layer; the HTTP layer answers with `status`. */
export class ApiError extends Error {
  readonly status: Status;
  constructor(status: Status) {
    super(status.message ?? status.reason ?? `HTTP ${status.code}`);
    this.name = 'ApiError';
    this.status = status;
  }
  get code(): number {
    return this.status.code;
  }
  get reason(): string | undefined {
    return this.status.reason;
  }
}

/** group/resource as upstream's GroupResource.String(): "pods", "deployments.apps". */
export interface GroupResource {
  group: string;
  resource: string;
}
/** group/kind as upstream's GroupKind.String(): "Pod", "Lease.coordination.k8s.io". */
export interface GroupKind {
  group: string;
  kind: string;
}

export function grString(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}
export function gkString(gk: GroupKind): string {
  return gk.group ? `${gk.kind}.${gk.group}` : gk.kind;
}

/** Go's %q for the strings we quote: JSON string escaping is the same for printable text. */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

function failure(code: number, reason: string, message: string, details?: StatusDetails): ApiError {
  const d = details ? stripEmpty(details) : undefined;
  return new ApiError({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(d && Object.keys(d).length ? { details: d } : {}),
    code,
  });
}

/** Upstream's omitempty on StatusDetails. */
function stripEmpty(d: StatusDetails): StatusDetails {
  const out: StatusDetails = {};
  if (d.name) out.name = d.name;
  if (d.group) out.group = d.group;
  if (d.kind) out.kind = d.kind;
  if (d.uid) out.uid = d.uid;
  if (d.causes?.length) out.causes = d.causes;
  if (d.retryAfterSeconds) out.retryAfterSeconds = d.retryAfterSeconds;
  return out;
}

function grDetails(gr: GroupResource, name: string): StatusDetails {
  return { name, group: gr.group, kind: gr.resource };
}

export function notFound(gr: GroupResource, name: string): ApiError {
  return failure(404, 'NotFound', `${grString(gr)} ${goQuote(name)} not found`, grDetails(gr, name));
}

export function alreadyExists(gr: GroupResource, name: string): ApiError {
  return failure(
    409,
    'AlreadyExists',
    `${grString(gr)} ${goQuote(name)} already exists`,
    grDetails(gr, name),
  );
}

/** The optimistic-concurrency message of the generic registry (storage.ErrConflict via NewConflict). */
export const OBJECT_MODIFIED =
  'the object has been modified; please apply your changes to the latest version and try again';

export function conflict(gr: GroupResource, name: string, err: string): ApiError {
  return failure(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${grString(gr)} ${goQuote(name)}: ${err}`,
    grDetails(gr, name),
  );
}

export function forbidden(gr: GroupResource, name: string, err: string, causes?: StatusCause[]): ApiError {
  const message = !gr.resource
    ? `forbidden: ${err}`
    : name
      ? `${grString(gr)} ${goQuote(name)} is forbidden: ${err}`
      : `${grString(gr)} is forbidden: ${err}`;
  return failure(403, 'Forbidden', message, { ...grDetails(gr, name), ...(causes ? { causes } : {}) });
}

/** One field error (field.Error): its type decides the body, as ErrorBody() renders it. */
export interface FieldError {
  type:
    | 'FieldValueInvalid'
    | 'FieldValueRequired'
    | 'FieldValueNotSupported'
    | 'FieldValueForbidden'
    | 'FieldValueDuplicate'
    | 'FieldValueTooLong';
  field: string;
  value?: unknown;
  detail?: string;
  /** NotSupported: the allowed values, rendered quoted. */
  supported?: readonly string[];
}

const TYPE_TEXT: Record<FieldError['type'], string> = {
  FieldValueInvalid: 'Invalid value',
  FieldValueRequired: 'Required value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueForbidden: 'Forbidden',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueTooLong: 'Too long',
};

/**
 * A bad value as ErrorBody prints it: numbers and booleans with %v, strings with %q, anything else
 * as json.Marshal writes it (map keys sorted; <, > and & escaped as Go does).
 */
function renderValue(v: unknown): string {
  if (typeof v === 'string') return goQuote(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return goJson(v);
}

/** Go's json.Marshal of a decoded JSON value: map keys sorted, HTML-sensitive characters escaped. */
export function goJson(v: unknown): string {
  const sorted = (x: unknown): unknown =>
    Array.isArray(x)
      ? x.map(sorted)
      : x && typeof x === 'object'
        ? Object.fromEntries(
            Object.keys(x)
              .sort()
              .map((k) => [k, sorted((x as Record<string, unknown>)[k])]),
          )
        : x;
  return (JSON.stringify(sorted(v)) ?? 'null')
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export function fieldErrorBody(e: FieldError): string {
  let s = TYPE_TEXT[e.type];
  if (['FieldValueInvalid', 'FieldValueNotSupported', 'FieldValueDuplicate'].includes(e.type))
    s += `: ${renderValue(e.value)}`;
  const detail =
    e.type === 'FieldValueNotSupported' && e.supported
      ? `supported values: ${e.supported.map(goQuote).join(', ')}`
      : e.detail;
  if (detail) s += `: ${detail}`;
  return s;
}

/**
 * NewInvalid: 422, "<Kind.group> "<name>" is invalid: <errors>" (several errors as "[a, b]", each
 * text once: ErrorList.ToAggregate drops repeats; the causes keep every error).
 */
export function invalid(gk: GroupKind, name: string, errs: FieldError[]): ApiError {
  const rendered = [...new Set(errs.map((e) => `${e.field}: ${fieldErrorBody(e)}`))];
  const agg = rendered.length === 1 ? rendered[0] : `[${rendered.join(', ')}]`;
  const message = rendered.length
    ? `${gkString(gk)} ${goQuote(name)} is invalid: ${agg}`
    : `${gkString(gk)} ${goQuote(name)} is invalid`;
  return failure(422, 'Invalid', message, {
    name,
    group: gk.group,
    kind: gk.kind,
    causes: errs.map((e) => ({ reason: e.type, message: fieldErrorBody(e), field: e.field })),
  });
}

export function badRequest(message: string): ApiError {
  return failure(400, 'BadRequest', message);
}

export function methodNotSupported(gr: GroupResource, action: string): ApiError {
  return failure(
    405,
    'MethodNotAllowed',
    `${action} is not supported on resources of kind ${goQuote(grString(gr))}`,
    { group: gr.group, kind: gr.resource },
  );
}

export function expired(message: string): ApiError {
  return failure(410, 'Expired', message);
}

export function unsupportedMediaType(accepted: readonly string[]): ApiError {
  return failure(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
  );
}

/** A JSON patch that does not apply (NewGenericServerResponse(422, …): the detail is not kept). */
export function unprocessable(): ApiError {
  return failure(422, 'Invalid', 'the server rejected our request due to an error in our request');
}

/** A method the route does not have (go-restful's 405). */
export function methodNotAllowed(): ApiError {
  return failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
}

/** What the server answers for a path it does not serve (go-restful's 404 through the apiserver). */
export function noSuchResource(): ApiError {
  return failure(404, 'NotFound', 'the server could not find the requested resource');
}

/** An error that is not a Status upstream (responsewriters.ErrorToAPIStatus: 500, reason ""). */
export function internal(message: string): ApiError {
  return new ApiError({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    code: 500,
  });
}

export function successStatus(details: StatusDetails): Status {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    details: stripEmpty(details),
    code: 200,
  };
}
