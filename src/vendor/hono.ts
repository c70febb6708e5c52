// Hono as cog-node's server uses it, in one module: Hono and its Node adapter were ~36 ES modules,
// 60–80 ms of CPU for the server's thread to import one by one, 37 ms as one esbuild bundle (the
// build replaces dist/vendor/hono.js with it). The adapter is hono-node.ts, imported when needed.
export { Hono } from 'hono';
export { cors } from 'hono/cors';
export { stream } from 'hono/streaming';
