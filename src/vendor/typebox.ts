// TypeBox's type builders as cog-node uses them (`Type`), in one module. The package is ~680 small
// files: the build bundles what each thread takes of them into dist/'s chunks
// (scripts/bundle-dist.mjs), so a predictor's worker, which needs only these, loads only these.
export { default as TypeBox, Type } from 'typebox';
