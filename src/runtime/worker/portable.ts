// Values crossing between the server's thread and the predictor's worker thread. Structured
// clone keeps data but not classes, and drops TypeBox's non-enumerable modifiers, so `Path` and
// `Secret` travel as tagged objects and schemas travel with `~optional` made explicit.
import { Path } from '../../predictor/path.js';
import { Secret } from '../../predictor/secret.js';
import { convertFields } from '../copy-on-change.js';

const PATH_TAG = '~cogPath';
const SECRET_TAG = '~cogSecret';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Replaces `Path` and `Secret` instances by tagged plain objects, in a copy: what the worker
 * posts later (a turn's batch of outputs) is as it was when yielded, whatever the code does next.
 */
export function toPortable(value: unknown): unknown {
  if (value instanceof Path) return { [PATH_TAG]: value.path };
  if (value instanceof Secret) return { [SECRET_TAG]: value.getSecretValue() };
  if (Array.isArray(value)) return value.map(toPortable);
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, toPortable(field)]));
  }
  return value;
}

/**
 * `toPortable` for a value that nothing changes before it is posted (a prediction's validated
 * input): copied only where a `Path` or `Secret` is replaced.
 */
export function toPortableShared(value: unknown): unknown {
  if (value instanceof Path || value instanceof Secret) return toPortable(value);
  if (Array.isArray(value) || isPlainObject(value)) return convertFields(value, toPortableShared);
  return value;
}

/** Undoes `toPortable` (on a value just received: copied only where a tag is replaced). */
export function fromPortable(value: unknown): unknown {
  if (Array.isArray(value)) return convertFields(value, fromPortable);
  if (isPlainObject(value)) {
    if (typeof value[PATH_TAG] === 'string' && Object.keys(value).length === 1) return new Path(value[PATH_TAG]);
    if (typeof value[SECRET_TAG] === 'string' && Object.keys(value).length === 1) return new Secret(value[SECRET_TAG]);
    return convertFields(value, fromPortable);
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
