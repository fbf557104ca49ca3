// A reply in the format the request accepts: EDN when it asks for it, else JSON.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { EDN_TYPE, toEdnText, toWire } from './wire.js';

/** Reply with a value in the format the request accepts: EDN when it asks for it, else JSON. */
export function send(request: FastifyRequest, reply: FastifyReply, value: unknown, status = 200): FastifyReply {
  return sendEncoded(request, reply, encodeReply(value, wantsEdn(request)), status);
}

/** A response value as its body's text: EDN, or JSON in the tagged wire form. */
export function encodeReply(value: unknown, edn: boolean): string {
  return edn ? toEdnText(value) : JSON.stringify(toWire(value));
}

/** Reply with a body encoded already (by a query worker) in the format the request accepts. */
export function sendEncoded(request: FastifyRequest, reply: FastifyReply, text: string | Buffer, status = 200): FastifyReply {
  reply.code(status);
  return reply.type(wantsEdn(request) ? `${EDN_TYPE}; charset=utf-8` : 'application/json; charset=utf-8').send(text);
}

export function wantsEdn(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return accept.includes(EDN_TYPE);
}
