// A reply in the format the request accepts: EDN when it asks for it, else JSON.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { EDN_TYPE, toEdnText, toWire } from './wire.js';

/** Reply with a value in the format the request accepts: EDN when it asks for it, else JSON. */
export function send(request: FastifyRequest, reply: FastifyReply, value: unknown, status = 200): FastifyReply {
  reply.code(status);
  if (wantsEdn(request)) return reply.type(`${EDN_TYPE}; charset=utf-8`).send(toEdnText(value));
  return reply.type('application/json; charset=utf-8').send(JSON.stringify(toWire(value)));
}

export function wantsEdn(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return accept.includes(EDN_TYPE);
}
