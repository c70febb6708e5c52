// The floor: a bare node:http server answering the same request with the same kind of body.
import { serveEcho } from './floor.mjs';

serveEcho((_id, input, reply) => reply(input.text));
