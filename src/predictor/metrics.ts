/**
 * A prediction's metrics, with Cog's rules: modes `replace` / `incr` / `append`, dotted keys that
 * nest, `null` deleting, a type that cannot change without a delete first, and name rules.
 */
export type MetricValue = boolean | number | string | MetricValue[] | { [key: string]: MetricValue };
export type MetricMode = 'replace' | 'incr' | 'increment' | 'append';
export type MetricsObject = { [key: string]: MetricValue };

const MAX_NAME_LENGTH = 128;
const MAX_SEGMENTS = 4;

/**
 * Throws a `TypeError` (wrong name, mode or value) that fails the prediction if uncaught. The
 * texts are coglet's, word for word (Cog's tests compare them). A delete skips the reserved
 * names: deleting what cannot exist is harmless, as in coglet.
 */
export function checkMetricName(name: string, options: { deleting?: boolean } = {}): void {
  const fail = (why: string): never => {
    throw new TypeError(why);
  };
  if (typeof name !== 'string') fail(`metric name must be a string, got ${typeof name}`);
  if (!options.deleting) {
    if (name === 'predict_time') fail("'predict_time' is reserved by the runtime");
    // cog-node's own (coglet has no queue_time): the runtime sets it, as it sets predict_time.
    if (name === 'queue_time') fail("'queue_time' is reserved by the runtime");
    if (name.startsWith('cog.')) fail("the 'cog.' prefix is reserved for system metrics");
  }
  if (name.length === 0) fail('metric name must not be empty');
  if (name.length > MAX_NAME_LENGTH) fail(`metric name must be ${MAX_NAME_LENGTH} characters or fewer (got ${name.length} characters)`);
  const segments = name.split('.');
  if (segments.length > MAX_SEGMENTS) fail(`metric name must have at most ${MAX_SEGMENTS} dot-separated segments (got ${segments.length})`);
  for (const [index, segment] of segments.entries()) {
    if (segment === '') {
      if (index === 0) fail('metric name must not start with a dot');
      if (index === segments.length - 1) fail('metric name must not end with a dot');
      fail('metric name must not contain empty segments (consecutive dots)');
    }
    if (!/^[A-Za-z]/.test(segment)) fail(`metric name segment '${segment}' must start with a letter`);
    // Scanned in order, so the first rule broken is the one named.
    for (let at = 1; at < segment.length; at += 1) {
      const char = segment[at]!;
      if (char === '_' && segment[at - 1] === '_') fail(`metric name segment '${segment}' must not contain consecutive underscores`);
      if (char !== '_' && !/[A-Za-z0-9]/.test(char)) fail(`metric name segment '${segment}' contains invalid character '${char}'`);
    }
    if (segment.endsWith('_')) fail(`metric name segment '${segment}' must end with a letter or digit`);
  }
}

function typeName(value: unknown): string {
  if (Array.isArray(value)) return 'list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'dict';
  return typeof value;
}

function isObject(value: unknown): value is MetricsObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function normalizeMode(mode: string | undefined): 'replace' | 'incr' | 'append' {
  switch (mode ?? 'replace') {
    case 'replace':
      return 'replace';
    case 'incr':
    case 'increment':
      return 'incr';
    case 'append':
      return 'append';
    default:
      throw new TypeError(`Unknown metric mode '${String(mode)}': use 'replace', 'incr' or 'append'`);
  }
}

function isMetricValue(value: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  if (typeof value === 'boolean' || typeof value === 'string') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((item) => isMetricValue(item, depth + 1));
  if (isObject(value) && [Object.prototype, null].includes(Object.getPrototypeOf(value) as object | null)) {
    return Object.values(value).every((item) => isMetricValue(item, depth + 1));
  }
  return false;
}

function checkValue(name: string, value: unknown): asserts value is MetricValue | null {
  if (value !== null && !isMetricValue(value)) {
    throw new TypeError(
      `Metric '${name}': values must be booleans, finite numbers, strings, arrays or plain objects of those, not ${describeValue(value)}`,
    );
  }
}

function describeValue(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'object' || value === null) return typeof value;
  return Array.isArray(value)
    ? 'an array holding other values'
    : `${value.constructor?.name ?? 'an object'} (or an object holding other values)`;
}

export class MetricsStore {
  readonly #root: MetricsObject = {};

  /** Applies one metric change; returns the mode actually used (for SSE `metric` events). */
  record(name: string, given: unknown, mode?: string): 'replace' | 'incr' | 'append' {
    const normalized = normalizeMode(mode);
    checkMetricName(name, { deleting: given === null && normalized === 'replace' });
    checkValue(name, given);
    // A copy: the caller may keep changing its object or array; the metric is what was recorded.
    const value = structuredClone(given);
    const segments = name.split('.');
    const leaf = segments.pop() as string;
    let parent = this.#root;
    if (value === null && normalized === 'replace') {
      for (const segment of segments) {
        const next = parent[segment];
        if (!isObject(next)) return normalized;
        parent = next;
      }
      delete parent[leaf];
      return normalized;
    }
    if (value === null) throw new TypeError(`Metric '${name}': null is only allowed with mode 'replace' (it deletes)`);
    for (const segment of segments) {
      const next = parent[segment];
      if (!isObject(next)) parent[segment] = {};
      parent = parent[segment] as MetricsObject;
    }
    const existing = parent[leaf];
    if (normalized === 'replace') {
      if (existing !== undefined && typeName(existing) !== typeName(value)) {
        throw new TypeError(`Metric '${name}' has type ${typeName(existing)}, cannot set to ${typeName(value)} without deleting first`);
      }
      parent[leaf] = value;
    } else if (normalized === 'incr') {
      if (typeof value !== 'number') throw new TypeError(`Metric '${name}': mode 'incr' needs a number, got ${typeName(value)}`);
      if (existing !== undefined && typeof existing !== 'number') {
        throw new TypeError(`Metric '${name}' has type ${typeName(existing)}, cannot increment it`);
      }
      parent[leaf] = (existing ?? 0) + value;
    } else if (existing === undefined) {
      parent[leaf] = [value];
    } else if (Array.isArray(existing)) {
      existing.push(value);
    } else {
      parent[leaf] = [existing, value];
    }
    return normalized;
  }

  delete(name: string): void {
    this.record(name, null, 'replace');
  }

  get(name: string): MetricValue | undefined {
    let node: MetricValue | undefined = this.#root;
    for (const segment of name.split('.')) {
      if (!isObject(node)) return undefined;
      node = node[segment];
    }
    return node;
  }

  /** A deep copy of the metrics so far. */
  toJSON(): MetricsObject {
    for (const _key in this.#root) return structuredClone(this.#root);
    return {};
  }
}
