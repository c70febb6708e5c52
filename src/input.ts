import type { Static, TSchema } from 'typebox';

/** Options with Cog's names (`Input(description=..., ge=...)` in Python). */
export interface InputOptions<T = unknown> {
  description?: string;
  default?: T;
  /** Inclusive minimum (numbers). */
  ge?: number;
  /** Inclusive maximum (numbers). */
  le?: number;
  /** Minimum string length. */
  min_length?: number;
  /** Maximum string length. */
  max_length?: number;
  /** A regular expression the whole string must match. */
  regex?: string;
  /** The allowed values (strings or integers). */
  choices?: readonly T[];
  /** Shown as deprecated in the schema; still accepted. */
  deprecated?: boolean;
  /** For Path/File inputs: accepted types, in HTML `accept` syntax (`image/*`, `.png`). */
  accept?: string;
}

/** Marks the choices so that the schema generator emits Cog's enum component. */
export const COG_CHOICES = '~cogChoices';

const OPTION_KEYWORDS = {
  description: 'description',
  default: 'default',
  ge: 'minimum',
  le: 'maximum',
  min_length: 'minLength',
  max_length: 'maxLength',
  regex: 'pattern',
  deprecated: 'deprecated',
  accept: 'x-cog-accept',
} as const;

/**
 * Declares an input: a TypeBox schema plus Cog's options. An input with no `default` (and not
 * `Type.Optional`) is required. The schema is copied, never changed in place.
 */
export function Input<T extends TSchema>(schema: T, options: InputOptions<Static<T>> = {}): T {
  // Copy descriptors, not a spread: TypeBox keeps modifiers such as `~optional` non-enumerable.
  const result = Object.defineProperties(
    {},
    Object.getOwnPropertyDescriptors(schema),
  ) as Record<string, unknown>;
  for (const [option, keyword] of Object.entries(OPTION_KEYWORDS)) {
    const value = options[option as keyof InputOptions];
    if (value !== undefined) result[keyword] = value;
  }
  if (options.choices !== undefined) {
    result.enum = [...options.choices];
    result[COG_CHOICES] = true;
  }
  return result as T;
}
