// Hono and its Node adapter as cog-node's server uses them, in one module: the two packages are
// ~36 ES modules, 60–80 ms of CPU and ~5 MiB resident for the server's thread to import them one
// by one, 37 ms and 0 extra as one esbuild bundle (the build replaces dist/vendor/hono.js with it).
export { Hono } from 'hono';
export { cors } from 'hono/cors';
export { stream } from 'hono/streaming';
export { createAdaptorServer } from '@hono/node-server';
