// Values crossing between the server's thread and the predictor's worker thread. Structured
// clone keeps data but not classes, and drops TypeBox's non-enumerable modifiers, so `Path` and
// `Secret` travel as tagged objects and schemas travel with `~optional` made explicit.
import { Path } from '../../predictor/path.js';
import { Secret } from '../../predictor/secret.js';

const PATH_TAG = '~cogPath';
const SECRET_TAG = '~cogSecret';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Replaces `Path` and `Secret` instances by tagged plain objects. */
export function toPortable(value: unknown): unknown {
  if (value instanceof Path) return { [PATH_TAG]: value.path };
  if (value instanceof Secret) return { [SECRET_TAG]: value.getSecretValue() };
  if (Array.isArray(value)) return value.map(toPortable);
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, toPortable(field)]));
  }
  return value;
}

/** Undoes `toPortable`. */
export function fromPortable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromPortable);
  if (isPlainObject(value)) {
    if (typeof value[PATH_TAG] === 'string' && Object.keys(value).length === 1) return new Path(value[PATH_TAG]);
    if (typeof value[SECRET_TAG] === 'string' && Object.keys(value).length === 1) return new Secret(value[SECRET_TAG]);
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, fromPortable(field)]));
  }
  return value;
}

/** A deep copy of a schema in which TypeBox's hidden `~optional` is an ordinary key. */
export function portableSchema<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map(portableSchema) as T;
  if (typeof schema !== 'object' || schema === null) return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema)) copy[key] = portableSchema(field);
  if ((schema as Record<string, unknown>)['~optional'] === true) copy['~optional'] = true;
  return copy as T;
}
