// TypeBox's compiler and value checks, apart from its builders (typebox.ts): ~210 KB of the ~420
// that a thread would otherwise compile before it can do anything, which the server's thread
// needs for inputs and cog.yaml and a predictor's worker only once its outputs are checked.
export { Compile, type Validator } from 'typebox/compile';
export { Value } from 'typebox/value';
