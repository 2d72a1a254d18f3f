import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import proxyAddr from '@fastify/proxy-addr';

/**
 * fastify's trustProxy rule for the doors that answer before fastify (the SDK fast lane,
 * WebSocket upgrades): X-Forwarded-* headers count only when the socket's peer is a proxy
 * listed in TRUST_PROXY.
 */
export type Trust = (address: string, hop: number) => boolean;

export function trustOf(trustProxy: readonly string[]): Trust {
  return trustProxy.length > 0 ? proxyAddr.compile([...trustProxy]) : () => false;
}

/** The client's address as fastify's `req.ip` gives it: X-Forwarded-For through trusted proxies. */
export function clientAddress(req: IncomingMessage, trusted: Trust): string {
  return proxyAddr(req, trusted) ?? req.socket.remoteAddress ?? 'unknown';
}

/** The request's protocol as fastify's `req.protocol` sees it with the same trustProxy. */
export function protocolOf(socket: Socket, forwardedProto: string | string[] | undefined, trusted: Trust): string {
  if (
    typeof forwardedProto === 'string' &&
    forwardedProto !== '' &&
    socket.remoteAddress !== undefined &&
    trusted(socket.remoteAddress, 0)
  ) {
    // The last entry is the one the trusted proxy added.
    return forwardedProto.slice(forwardedProto.lastIndexOf(',') + 1).trim();
  }
  return (socket as Partial<TLSSocket>).encrypted ? 'https' : 'http';
}
