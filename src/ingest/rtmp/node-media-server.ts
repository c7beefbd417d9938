import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../../logging/index.ts';

// The single typed wrapper around node-media-server 4.4.3 (CommonJS, no types shipped). Everything
// below reaches into its internals (Context, BroadcastServer, BaseSession, NodeRtmpServer), so the
// version is pinned exactly. Its state is process-global: one NmsRtmpServer may run at a time.

/** `src/protocol/rtmp.js`: the chunk-stream parser of one RTMP session. */
interface NmsRtmpParser {
  inPackets: Map<number, { capacity: number }>;
  parserPacket: { header: { length: number } };
  /** Grows the current packet's payload buffer to its header's message length (up to 16 MiB). */
  packetAlloc(): void;
}

/** The fields of an NMS session (`src/session/base_session.js`, `rtmp_session.js`) used here. */
interface NmsSession {
  id: string;
  ip: string;
  protocol: string;
  streamApp: string;
  streamName: string;
  streamPath: string;
  streamQuery: Record<string, string | string[] | undefined> | undefined;
  socket?: Socket;
  rtmp?: NmsRtmpParser;
  sendBuffer: (buffer: Buffer) => void;
  close: () => void;
}

/** `src/server/broadcast_server.js`: one per stream path. */
interface NmsBroadcast {
  publisher: NmsSession | null;
  postPlay(session: NmsSession): string | null;
  donePlay(session: NmsSession): void;
  /** Ends the publish now (skips the 30 s grace window); emits donePublish. */
  _finishPublish(): void;
}

interface NmsContext {
  broadcasts: Map<string, NmsBroadcast>;
  sessions: Map<string, NmsSession>;
  eventEmitter: EventEmitter;
}

interface NmsLogger {
  level: string;
  log: (message: string, level?: string) => void;
}

interface NmsConfig {
  bind: string;
  rtmp: { port: number };
  webadmin: { enable: false };
  store: { path: string };
  record: { auto: false; path: string };
  auth: { play: boolean; publish: boolean; secret: string };
}

interface NmsInstance {
  rtmpServer: { tcpServer?: Server };
  run(): Promise<void>;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);
const NodeMediaServer = require('node-media-server') as new (config: NmsConfig) => NmsInstance;
const Context = require('node-media-server/src/core/context.js') as NmsContext;
const BaseSession = require('node-media-server/src/session/base_session.js') as new () => NmsSession;
const nmsLogger = require('node-media-server/src/core/logger.js') as NmsLogger;
/** `src/protocol/rtmp.js`: `createMessage` builds the RTMP-player copy of every media message. */
const RtmpProtocol = require('node-media-server/src/protocol/rtmp.js') as {
  createMessage: (packet: unknown) => Buffer;
};
/** What the broadcast gets instead of an RTMP copy: nothing plays over RTMP here. */
const NO_RTMP_COPY = Buffer.alloc(0);

/** `src/core/avpacket.js`: the fields of a parsed RTMP media message that `Flv.createMessage` reads. */
interface NmsAvPacket {
  codec_type: number;
  dts: number;
  size: number;
  data: Buffer;
}
/** `src/protocol/flv.js`: `createMessage` builds the FLV tag every subscriber (our tap) receives. */
const FlvProtocol = require('node-media-server/src/protocol/flv.js') as {
  createMessage: (packet: NmsAvPacket) => Buffer;
};

/**
 * `Flv.createMessage` without the zero fill of `Buffer.alloc`: every byte is written (the StreamID and
 * any payload shortfall explicitly), and small tags come from node's buffer pool instead of each
 * being an ArrayBuffer of its own, which V8 counts towards its next full collection.
 */
function flvMessage(packet: NmsAvPacket): Buffer {
  const size = packet.size;
  const tag = Buffer.allocUnsafe(11 + size + 4);
  tag[0] = packet.codec_type;
  tag.writeUIntBE(size, 1, 3);
  tag[4] = (packet.dts >> 16) & 0xff;
  tag[5] = (packet.dts >> 8) & 0xff;
  tag[6] = packet.dts & 0xff;
  tag[7] = (packet.dts >> 24) & 0xff;
  tag.fill(0, 8, 11); // StreamID
  const copied = packet.data.copy(tag, 11, 0, size);
  tag.fill(0, 11 + copied, 11 + size);
  tag.writeUInt32BE(11 + size, 11 + size);
  return tag;
}

/** Options of NmsRtmpServer. */
export interface NmsRtmpServerOptions {
  host: string;
  /** TCP port of the RTMP listener; must be free (checked before NMS starts). */
  port: number;
  /** Directory for NMS's JSON store (it always writes one). */
  storeDir: string;
  logger: Logger;
  /** A connection that is not an admitted publisher this long after connecting is destroyed. */
  admissionTimeoutMs: number;
  /** An admitted publisher that sends nothing for this long is destroyed. */
  idleTimeoutMs: number;
}

/** An in-process FLV subscription to a published stream. */
export interface FlvSubscription {
  /** Detaches the subscriber. Idempotent. */
  close(): void;
}

/** An RTMP publisher NMS has accepted as its path's publisher, awaiting our decision. */
export interface RtmpPublishRequest {
  readonly sessionId: string;
  readonly app: string;
  readonly streamName: string;
  readonly streamPath: string;
  /** First value of each query parameter of the publish URL. */
  readonly query: Readonly<Record<string, string>>;
  readonly remoteAddress: string;
  /** The socket is open and the session is still its path's publisher. */
  isLive(): boolean;
  /** Accepts the publisher: lifts the admission deadline, arms the idle timeout. */
  admit(): void;
  /** Closes the session and ends its publish at once (no grace window); logs `reason`. */
  close(reason: string): void;
  /** Calls `listener` once when the publisher's socket has closed (at once if it already has). */
  onClose(listener: () => void): void;
  /** Subscribes in process: FLV header, metadata, sequence headers, the cached GOP, then live tags. */
  subscribeFlv(onData: (chunk: Buffer) => void): FlvSubscription;
}

/**
 * Caps on what one connection's RTMP parser may allocate. NMS allocates each chunk stream's payload
 * buffer from the (unauthenticated) message length, up to 16 MiB per chunk stream id, so a few bytes
 * of headers could otherwise allocate gigabytes.
 */
const MAX_CHUNK_STREAMS = 64;
const MAX_PARSER_BUFFER_BYTES = 48 * 1024 * 1024;

/** Makes `rtmp.packetAlloc` throw (caught by the data wrapper, which drops the connection) past the caps. */
function capParserMemory(rtmp: NmsRtmpParser): void {
  const packetAlloc = rtmp.packetAlloc.bind(rtmp);
  rtmp.packetAlloc = () => {
    if (rtmp.inPackets.size > MAX_CHUNK_STREAMS) {
      throw new Error(`more than ${MAX_CHUNK_STREAMS} RTMP chunk streams`);
    }
    let bytes = rtmp.parserPacket.header.length;
    for (const packet of rtmp.inPackets.values()) bytes += packet.capacity;
    if (bytes > MAX_PARSER_BUFFER_BYTES) {
      throw new Error(`RTMP messages would buffer ${bytes} bytes (limit ${MAX_PARSER_BUFFER_BYTES})`);
    }
    packetAlloc();
  };
}

interface ConnectionState {
  admitted: boolean;
  timer: NodeJS.Timeout;
}

let running: NmsRtmpServer | undefined;

/** Resolves when `host:port` can be bound (then released), rejects with the listen error otherwise. */
function checkPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

function firstValues(query: NmsSession['streamQuery']): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(query ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) result[key] = first;
  }
  return result;
}

/** node-media-server's RTMP listener with typed publish events; HTTP, webadmin, play and recording off. */
export class NmsRtmpServer {
  readonly #options: NmsRtmpServerOptions;
  readonly #logger: Logger;
  readonly #connections = new WeakMap<Socket, ConnectionState>();
  readonly #publishListeners: ((request: RtmpPublishRequest) => void)[] = [];
  #nms: NmsInstance | undefined;
  #stopped = false;
  #restoreNms: (() => void) | undefined;

  constructor(options: NmsRtmpServerOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ component: 'node-media-server' });
  }

  /** Registers a listener for publishers NMS accepted; call before start(). */
  onPublish(listener: (request: RtmpPublishRequest) => void): void {
    this.#publishListeners.push(listener);
  }

  /** Checks the port, starts NMS and resolves once the RTMP listener is bound. */
  async start(): Promise<void> {
    if (running !== undefined)
      throw new Error('node-media-server is process-global: one NmsRtmpServer at a time');
    const { host, port, storeDir } = this.#options;
    await checkPortFree(host, port);
    running = this;
    try {
      this.#routeLogs(); // before the constructor, which logs a banner at info level
      this.#cheaperBroadcastCopies();
      const nms = new NodeMediaServer({
        bind: host,
        rtmp: { port },
        webadmin: { enable: false },
        store: { path: storeDir },
        record: { auto: false, path: join(storeDir, 'record') },
        // Playback over RTMP is refused: a random secret no player can sign for.
        auth: { play: true, publish: false, secret: randomBytes(32).toString('hex') },
      });
      this.#nms = nms;
      const runDone = nms.run();
      // run() called listen() synchronously; replace NMS's error handler, which process.exit(1)s.
      const tcpServer = nms.rtmpServer.tcpServer;
      if (tcpServer === undefined) throw new Error('node-media-server created no RTMP listener');
      tcpServer.removeAllListeners('error');
      const listening = new Promise<void>((resolve, reject) => {
        tcpServer.once('listening', resolve);
        tcpServer.once('error', reject);
      });
      tcpServer.on('error', (error) => this.#logger.error({ err: error }, 'RTMP listener error'));
      tcpServer.on('connection', (socket: Socket) => this.#onConnection(socket));
      Context.eventEmitter.on('prePublish', this.#onPrePublish);
      await listening;
      await runDone;
      // NMS's JSON store flushes on SIGINT/SIGTERM and then re-raises the signal, which the gateway
      // would take as a second signal (exit at once, no drain). The gateway owns the signals.
      const onSignal = (nms as unknown as { store?: { _onSignal?: (signal: NodeJS.Signals) => void } }).store
        ?._onSignal;
      if (onSignal) {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
    } catch (error) {
      await this.stop();
      throw new Error(`node-media-server failed to start on ${host}:${port}`, { cause: error });
    }
  }

  /** Stops NMS, destroys its connections and clears its process-global stream registry. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped || running !== this) return;
    this.#stopped = true;
    Context.eventEmitter.off('prePublish', this.#onPrePublish);
    try {
      await this.#nms?.stop();
    } finally {
      for (const broadcast of Context.broadcasts.values()) broadcast._finishPublish();
      Context.broadcasts.clear();
      Context.sessions.clear();
      this.#restoreNms?.();
      running = undefined;
    }
  }

  /**
   * Playback over RTMP is refused, yet NMS's broadcast copies every media message into an RTMP
   * message (and keeps a GOP of them) for RTMP players: a full copy of all media, which as Buffer
   * churn also drives V8's full collections. That copy is skipped, and the FLV copy our tap takes is
   * made without zero-filling, while this server runs.
   */
  #cheaperBroadcastCopies(): void {
    const original = { rtmp: RtmpProtocol.createMessage, flv: FlvProtocol.createMessage };
    RtmpProtocol.createMessage = () => NO_RTMP_COPY;
    FlvProtocol.createMessage = flvMessage;
    const restoreBefore = this.#restoreNms;
    this.#restoreNms = () => {
      restoreBefore?.();
      RtmpProtocol.createMessage = original.rtmp;
      FlvProtocol.createMessage = original.flv;
    };
  }

  /** Sends NMS's console logging to our logger, warnings and errors only. */
  #routeLogs(): void {
    const previous = { level: nmsLogger.level, log: nmsLogger.log };
    nmsLogger.level = 'warn';
    nmsLogger.log = (message, level = 'info') => {
      if (level === 'error') this.#logger.error(message);
      else if (level === 'warn') this.#logger.warn(message);
      else this.#logger.debug(message);
    };
    this.#restoreNms = () => {
      nmsLogger.level = previous.level;
      nmsLogger.log = previous.log;
    };
  }

  #onConnection(socket: Socket): void {
    const remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    // NMS's connection listener ran first and registered the session.
    for (const session of Context.sessions.values()) {
      if (session.socket === socket && session.rtmp !== undefined) capParserMemory(session.rtmp);
    }
    // NMS parses in its 'data' listener; a throw there would be an uncaught exception.
    for (const listener of socket.listeners('data') as ((chunk: Buffer) => void)[]) {
      socket.off('data', listener);
      socket.on('data', (chunk: Buffer) => {
        try {
          listener(chunk);
        } catch (error) {
          this.#logger.warn({ err: error, remoteAddress }, 'closing RTMP connection: unparseable input');
          socket.destroy();
        }
      });
    }
    const timer = setTimeout(() => {
      if (this.#connections.get(socket)?.admitted) return;
      this.#logger.warn(
        { remoteAddress, admissionTimeoutMs: this.#options.admissionTimeoutMs },
        'closing RTMP connection: no admitted publish in time',
      );
      socket.destroy();
    }, this.#options.admissionTimeoutMs);
    timer.unref();
    this.#connections.set(socket, { admitted: false, timer });
    socket.once('close', () => clearTimeout(timer));
  }

  readonly #onPrePublish = (session: NmsSession): void => {
    // prePublish fires before NMS's own checks (duplicate publisher, resume); decide after them.
    setImmediate(() => {
      const socket = session.socket;
      const broadcast = Context.broadcasts.get(session.streamPath);
      if (socket === undefined || socket.destroyed || broadcast?.publisher !== session) return;
      const request = this.#request(session, socket, broadcast);
      for (const listener of this.#publishListeners) {
        try {
          listener(request);
        } catch (error) {
          this.#logger.error({ err: error, streamPath: session.streamPath }, 'publish listener failed');
          request.close('publish listener failed');
        }
      }
    });
  };

  #request(session: NmsSession, socket: Socket, broadcast: NmsBroadcast): RtmpPublishRequest {
    const logger = this.#logger;
    const idleTimeoutMs = this.#options.idleTimeoutMs;
    const connection = this.#connections.get(socket);
    let closed = socket.destroyed;
    // End the publish when the socket closes instead of 30 s later (NMS's grace window), so a
    // reconnect is a fresh publish and never replays the previous GOP cache.
    socket.once('close', () => {
      closed = true;
      if (broadcast.publisher === session) broadcast._finishPublish();
    });
    return {
      sessionId: session.id,
      app: session.streamApp,
      streamName: session.streamName,
      streamPath: session.streamPath,
      query: firstValues(session.streamQuery),
      remoteAddress: session.ip,
      isLive: () => !closed && !socket.destroyed && broadcast.publisher === session,
      admit: () => {
        if (connection !== undefined) {
          connection.admitted = true;
          clearTimeout(connection.timer);
        }
        socket.setTimeout(idleTimeoutMs, () => {
          logger.warn({ streamPath: session.streamPath, idleTimeoutMs }, 'closing idle RTMP publisher');
          socket.destroy();
        });
      },
      close: (reason) => {
        if (closed) return;
        logger.warn(
          { streamPath: session.streamPath, remoteAddress: session.ip, reason },
          'closing RTMP publisher',
        );
        socket.destroy();
      },
      onClose: (listener) => {
        if (closed) queueMicrotask(listener);
        else socket.once('close', listener);
      },
      subscribeFlv: (onData) => {
        const tap = new BaseSession();
        tap.protocol = 'flv';
        tap.ip = ''; // internal: NMS emits no play events and skips play auth for it
        tap.streamPath = session.streamPath;
        // One FLV header, then one whole tag per call (Flv.createMessage), each a fresh buffer.
        tap.sendBuffer = onData;
        const error = broadcast.postPlay(tap);
        if (error !== null) throw new Error(`FLV subscribe to ${session.streamPath} failed: ${error}`);
        let subscribed = true;
        return {
          close: () => {
            if (!subscribed) return;
            subscribed = false;
            broadcast.donePlay(tap);
          },
        };
      },
    };
  }
}
