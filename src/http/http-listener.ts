import { once } from 'node:events';
import http, { type RequestListener } from 'node:http';
import http2, { type Http2Session } from 'node:http2';
import net, { type AddressInfo, type Socket } from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../logging/index.ts';
import type { Metrics } from '../metrics/index.ts';
import type { Dispatcher } from './dispatch.ts';

/** Timeouts that keep idle or slow (slowloris) clients from holding connections. */
export interface ListenerTimeouts {
  /** Time to receive the first bytes / complete request headers. */
  headersTimeoutMs: number;
  /** Idle keep-alive connection or HTTP/2 session lifetime. */
  idleTimeoutMs: number;
}

/** Options of the one HTTP port. */
export interface HttpListenerOptions {
  host: string;
  port: number;
  /** PEM cert + key: serve TLS with ALPN h2 / http/1.1 instead of cleartext. */
  tls?: { cert: Buffer; key: Buffer } | undefined;
  /** Express (or any node listener) for HTTP/1.1 requests. */
  http1: RequestListener;
  dispatcher: Dispatcher;
  timeouts: ListenerTimeouts;
  logger: Logger;
  metrics: Metrics;
}

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/**
 * One TCP port that speaks HTTP/1.1 and HTTP/2: cleartext connections are sniffed for the HTTP/2
 * connection preface (h2c with prior knowledge, RFC 9113 §3.3); TLS connections pick by ALPN.
 */
export class HttpListener {
  readonly #options: HttpListenerOptions;
  readonly #h1: http.Server;
  readonly #h2: http2.Http2Server;
  readonly #front: net.Server;
  readonly #sessions = new Set<Http2Session>();
  readonly #pending = new Set<Socket>();
  /** Every accepted TCP connection, until it closes. */
  readonly #sockets = new Set<Socket>();
  #stopping: Promise<void> | undefined;

  constructor(options: HttpListenerOptions) {
    this.#options = options;
    const { timeouts, dispatcher, logger, metrics } = options;

    this.#h1 = http.createServer(
      {
        headersTimeout: timeouts.headersTimeoutMs,
        requestTimeout: 0, // bodies are policed by the body reader's idle timeout; streams may be long
        keepAliveTimeout: 5_000,
        connectionsCheckingInterval: Math.max(100, Math.min(1_000, timeouts.headersTimeoutMs / 2)),
      },
      options.http1,
    );
    this.#h1.timeout = timeouts.idleTimeoutMs;
    // A client may half-close after sending its request; node would otherwise abort the request in
    // flight and drop a response whose side effects (a stored record) already happened.
    (this.#h1 as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    // This server never listens itself (connections are handed to it), but node only starts tracking
    // connections (closeIdleConnections, headersTimeout checks) on 'listening'.
    this.#h1.emit('listening');
    this.#h1.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
      metrics.httpRejectedConnections.inc({ reason: error.code ?? 'client-error' });
      logger.debug({ err: error }, 'HTTP/1.1 client error');
      if (socket.writable && !socket.destroyed) {
        const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      } else {
        socket.destroy();
      }
    });

    this.#h2 = http2.createServer({
      settings: { maxConcurrentStreams: 256 },
      maxSessionMemory: 64,
    });
    this.#h2.setTimeout(timeouts.idleTimeoutMs);
    this.#h2.on('request', (req, res) => dispatcher.dispatch(req, res, 'h2'));
    this.#h2.on('session', (session: Http2Session) => {
      this.#sessions.add(session);
      session.once('close', () => this.#sessions.delete(session));
      session.on('error', (error) => logger.debug({ err: error }, 'HTTP/2 session error'));
      if (this.#stopping) session.close();
    });
    this.#h2.on('sessionError', (error) => {
      metrics.httpRejectedConnections.inc({ reason: 'h2-session-error' });
      logger.debug({ err: error }, 'HTTP/2 session error');
    });

    if (options.tls) {
      const server = tls.createServer({
        allowHalfOpen: true,
        cert: options.tls.cert,
        key: options.tls.key,
        ALPNProtocols: ['h2', 'http/1.1'],
        handshakeTimeout: timeouts.headersTimeoutMs,
      });
      server.on('secureConnection', (socket: tls.TLSSocket) => {
        this.#hand(socket, socket.alpnProtocol === 'h2' ? 'h2' : 'h1');
      });
      server.on('tlsClientError', (error) => {
        metrics.httpRejectedConnections.inc({ reason: 'tls' });
        logger.debug({ err: error }, 'TLS handshake failed');
      });
      this.#front = server;
    } else {
      this.#front = net.createServer({ allowHalfOpen: true }, (socket) => this.#sniff(socket));
    }
    this.#front.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    this.#front.on('error', (error) => logger.error({ err: error }, 'HTTP listener error'));
  }

  /** Listens; resolves with the bound address (port 0 picks a free port). */
  async start(): Promise<AddressInfo> {
    this.#front.listen(this.#options.port, this.#options.host);
    await Promise.race([
      once(this.#front, 'listening'),
      once(this.#front, 'error').then(([error]) => {
        throw error;
      }),
    ]);
    return this.address();
  }

  /** The bound address. */
  address(): AddressInfo {
    const address = this.#front.address();
    if (address === null || typeof address === 'string') throw new Error('HTTP listener is not bound to TCP');
    return address;
  }

  /**
   * Graceful stop: refuses new connections, lets in-flight requests finish (HTTP/2 sessions get GOAWAY,
   * idle HTTP/1.1 keep-alive sockets close), then force-closes whatever remains after `timeoutMs`.
   */
  stop(timeoutMs: number): Promise<void> {
    this.#stopping ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#front.close(() => resolve()));
      for (const socket of this.#pending) socket.destroy();
      for (const session of this.#sessions) session.close();
      this.#h1.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const drained = this.#options.dispatcher.idle();
      const outcome = await Promise.race([drained.then(() => 'drained' as const), deadline]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        this.#options.logger.warn(
          { inFlight: this.#options.dispatcher.inFlight },
          'shutdown timeout: closing connections with requests in flight',
        );
      }
      this.#h1.closeAllConnections();
      for (const session of this.#sessions) session.destroy();
      // A destroyed HTTP/2 session over TLS can leave its TCP socket open; the front owns every socket.
      for (const socket of this.#sockets) socket.destroy();
      this.#h1.close();
      this.#h2.close();
      await closed;
    })();
    return this.#stopping;
  }

  /** Reads the first bytes of a cleartext connection and hands it to HTTP/2 or HTTP/1.1. */
  #sniff(socket: Socket): void {
    if (this.#stopping) {
      socket.destroy();
      return;
    }
    this.#pending.add(socket);
    let head: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      this.#options.metrics.httpRejectedConnections.inc({ reason: 'preface-timeout' });
      socket.destroy();
    }, this.#options.timeouts.headersTimeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      this.#pending.delete(socket);
      socket.off('data', onData);
      socket.off('close', cleanup);
      socket.off('error', onError);
      socket.off('end', onEnd);
    };
    const onError = () => cleanup();
    const onEnd = () => socket.destroy(); // closed before saying anything
    const onData = (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const n = Math.min(head.length, H2_PREFACE.length);
      const looksH2 = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (looksH2 && n < H2_PREFACE.length) return; // wait for the rest of the preface
      cleanup();
      socket.pause();
      socket.unshift(head);
      this.#hand(socket, looksH2 ? 'h2' : 'h1');
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', cleanup);
    socket.on('error', onError);
  }

  /**
   * Gives a connection to the HTTP/2 or HTTP/1.1 server. Bytes already read while sniffing stay in the
   * socket's buffer: Http2Session replays them on the next tick (so the socket must stay paused),
   * the HTTP/1.1 parser reads them once the socket flows again.
   */
  #hand(socket: Socket, protocol: 'h1' | 'h2'): void {
    if (protocol === 'h2') {
      // Half-open sockets are for HTTP/1.1 clients: an HTTP/2 client that sends FIN has gone (it
      // half-closes streams, never TCP), so end our side too, or its long-lived streams
      // (SubscribeToShard) would never learn that the client left.
      socket.once('end', () => socket.end());
      this.#h2.emit('connection', socket);
    } else {
      this.#h1.emit('connection', socket);
      socket.resume();
    }
  }
}
