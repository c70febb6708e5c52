// The YAML parser cog.yaml is read with, in one module: the package is ~70 CommonJS files (~0.1 s
// of a start here); the build replaces the compiled dist/vendor/yaml.js with one esbuild bundle.
export { parse } from 'yaml';
