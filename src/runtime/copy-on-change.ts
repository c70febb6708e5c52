// `convertFields`: an array's items or an object's fields passed through a conversion, copied only
// where one changed (the secrets mask of responses, the values that cross to the worker thread);
// `hasOwnKeys`, which tells an empty object without listing its keys.

/**
 * `value` with `convert` applied to each item (an array) or own enumerable field (an object): a
 * shallow copy only when some item or field changed, else `value` itself.
 */
export function convertFields<T extends unknown[] | Record<string, unknown>>(value: T, convert: (field: unknown) => unknown): T {
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      const shown = convert(item);
      if (shown !== item) (copy ??= value.slice())[index] = shown;
    }
    return (copy ?? value) as T;
  }
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const field = value[key];
    const shown = convert(field);
    if (shown !== field) (copy ??= { ...value })[key] = shown;
  }
  return (copy ?? value) as T;
}

/** Whether `object` has an own enumerable field (without making the array `Object.keys` would). */
export function hasOwnKeys(object: object | undefined): boolean {
  for (const key in object) if (Object.hasOwn(object, key)) return true;
  return false;
}
