// TypeBox's runtime as cog-node uses it, in one module. The package is ~680 small files, and each
// thread that imports them pays for every one (0.3–0.9 s here); the build replaces the compiled
// dist/vendor/typebox.js with one esbuild bundle of this file (scripts/bundle-vendor.mjs).
export { default as TypeBox, Type } from 'typebox';
export { Compile, type Validator } from 'typebox/compile';
export { Value } from 'typebox/value';
