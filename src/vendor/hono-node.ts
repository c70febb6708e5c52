// Hono's Node adapter (@hono/node-server), in one module of its own: importing it makes Node load
// its web Request/Response (undici: ~20 ms of the server's thread, ~7 MiB resident), so `serve()`
// imports it only when a request first needs Hono (fast-path.ts), not on the way to READY.
export { createAdaptorServer, getRequestListener } from '@hono/node-server';
