import type { Logger } from '../../logging/index.ts';
import type { FragmenterOptions } from '../../media/fmp4/index.ts';
import type { FragmentSink, PublishGate } from '../ingest-ports.ts';
import { IngestSession } from '../ingest-session.ts';
import { type FlvSubscription, NmsRtmpServer, type RtmpPublishRequest } from './node-media-server.ts';

export type { FragmentSink, IngestEvent, PublishGate } from '../ingest-ports.ts';

/** Options of RtmpIngest. */
export interface RtmpIngestOptions {
  host: string;
  /** RTMP port; must be free. */
  port: number;
  /** Directory node-media-server may write its JSON store to. */
  storeDir: string;
  ffmpegPath: string;
  gate: PublishGate;
  sink: FragmentSink;
  logger: Logger;
  /** RTMP application of publish URLs (`rtmp://host:port/<app>/<StreamName>?key=<token>`); default `live`. */
  app?: string;
  /** A connection that is not an accepted publisher after this long is closed; default 10 000 ms. */
  admissionTimeoutMs?: number;
  /** An accepted publisher that sends nothing this long is closed; default 20 000 ms. */
  idleTimeoutMs?: number;
  /**
   * An admitted publish whose media gives no init segment this long is closed (no keyframe, or
   * input ffmpeg keeps probing while the publisher streams on); default 15 000 ms.
   */
  mediaStartTimeoutMs?: number;
  /** PublishGate.authorize() taking longer refuses the publisher; default 5000 ms. */
  authorizeTimeoutMs?: number;
  /** Media waiting for the sink (or FLV for an ffmpeg remux) beyond which the publisher is closed; default 32 MiB. */
  maxInputBacklogBytes?: number;
  /** Time stop() lets running publishes deliver their last fragment; default 5000 ms. */
  stopGraceMs?: number;
  fragmenter?: FragmenterOptions;
}

export const RTMP_INGEST_DEFAULTS = {
  app: 'live',
  admissionTimeoutMs: 10_000,
  idleTimeoutMs: 20_000,
  mediaStartTimeoutMs: 15_000,
  authorizeTimeoutMs: 5000,
  maxInputBacklogBytes: 32 * 1024 * 1024,
  stopGraceMs: 5000,
} as const;

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * RTMP ingest: publishers push to `rtmp://host:port/live/<StreamName>?key=<token>`; the PublishGate
 * admits or refuses each; an admitted publish is remuxed to fMP4 (in process for H.264/AAC, else by
 * `ffmpeg -c copy`), cut into init segments and per-GOP fragments, and handed to the FragmentSink in
 * order. The publish ends when the publisher's socket closes; its last GOP is delivered then.
 */
export class RtmpIngest {
  readonly #options: RtmpIngestOptions;
  readonly #logger: Logger;
  readonly #server: NmsRtmpServer;
  /** Per stream: settles when its latest publish has delivered everything. */
  readonly #lastPublish = new Map<string, Promise<unknown>>();
  readonly #pipelines = new Set<IngestSession>();
  #state: 'new' | 'started' | 'stopped' = 'new';

  constructor(options: RtmpIngestOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ component: 'rtmp-ingest' });
    this.#server = new NmsRtmpServer({
      host: options.host,
      port: options.port,
      storeDir: options.storeDir,
      logger: options.logger,
      admissionTimeoutMs: options.admissionTimeoutMs ?? RTMP_INGEST_DEFAULTS.admissionTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs ?? RTMP_INGEST_DEFAULTS.idleTimeoutMs,
    });
    this.#server.onPublish((request) => {
      this.#onPublish(request).catch((error: unknown) => {
        this.#logger.error({ err: error, streamPath: request.streamPath }, 'publish handling failed');
        request.close('internal error');
      });
    });
  }

  /** Binds the RTMP port (throws if it is taken) and accepts publishers. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error('RtmpIngest can be started once');
    this.#state = 'started';
    await this.#server.start();
    this.#logger.info({ host: this.#options.host, port: this.#options.port }, 'RTMP ingest listening');
  }

  /** Closes all connections, lets running publishes deliver their last fragment, then stops. Idempotent. */
  async stop(): Promise<void> {
    if (this.#state !== 'started') return;
    this.#state = 'stopped';
    await this.#server.stop();
    const pipelines = [...this.#pipelines];
    for (const pipeline of pipelines) pipeline.endInput();
    const graceMs = this.#options.stopGraceMs ?? RTMP_INGEST_DEFAULTS.stopGraceMs;
    const all = Promise.all(pipelines.map((pipeline) => pipeline.done));
    await withTimeout(all, graceMs, 'draining publishes').catch((error: unknown) => {
      this.#logger.warn({ err: error }, 'stopping publishes that did not finish in time');
      for (const pipeline of pipelines) pipeline.abort();
    });
    await all;
  }

  /** Streams with a publish in progress (still receiving or still delivering). */
  activeStreams(): string[] {
    return [...this.#lastPublish.keys()];
  }

  async #onPublish(request: RtmpPublishRequest): Promise<void> {
    const { streamName } = request;
    const app = this.#options.app ?? RTMP_INGEST_DEFAULTS.app;
    const logger = this.#logger.child({ streamName, remoteAddress: request.remoteAddress });
    if (request.app !== app) return request.close(`unknown application '${request.app}'`);
    const token = request.query.key;
    if (token === undefined || token === '') return request.close('missing key');
    if (this.#state !== 'started') return request.close('ingest is stopping');

    let authorized: boolean;
    try {
      const timeoutMs = this.#options.authorizeTimeoutMs ?? RTMP_INGEST_DEFAULTS.authorizeTimeoutMs;
      authorized = await withTimeout(this.#options.gate.authorize(streamName, token), timeoutMs, 'authorize');
    } catch (error) {
      logger.error({ err: error }, 'publish gate failed');
      return request.close('authorization failed');
    }
    if (!authorized) return request.close('unknown stream or wrong key');
    if (!request.isLive()) return logger.info('publisher left during authorization');
    if (this.#state !== 'started') return request.close('ingest is stopping');

    request.admit();
    this.#startPipeline(request, logger);
  }

  #startPipeline(request: RtmpPublishRequest, logger: Logger): void {
    const { streamName } = request;
    const pipeline = new IngestSession({
      streamName,
      input: { kind: 'flv' },
      ffmpegPath: this.#options.ffmpegPath,
      sink: this.#options.sink,
      logger,
      fragmenter: this.#options.fragmenter ?? {},
      maxInputBacklogBytes: this.#options.maxInputBacklogBytes ?? RTMP_INGEST_DEFAULTS.maxInputBacklogBytes,
      after: this.#lastPublish.get(streamName) ?? Promise.resolve(),
    });
    this.#pipelines.add(pipeline);
    this.#lastPublish.set(streamName, pipeline.done);
    logger.info({ ffmpegPid: pipeline.ffmpegPid }, 'publish accepted');

    let subscription: FlvSubscription | undefined;
    try {
      subscription = request.subscribeFlv((chunk) => {
        if (!pipeline.write(chunk)) request.close('ingest backlog exceeded');
      });
    } catch (error) {
      logger.error({ err: error }, 'FLV subscription failed');
      request.close('FLV subscription failed');
      pipeline.abort();
    }
    const mediaStartTimeoutMs = this.#options.mediaStartTimeoutMs ?? RTMP_INGEST_DEFAULTS.mediaStartTimeoutMs;
    const mediaStart = setTimeout(() => {
      if (pipeline.inits > 0) return;
      request.close(`no decodable media within ${mediaStartTimeoutMs} ms`);
      pipeline.abort();
    }, mediaStartTimeoutMs);
    request.onClose(() => {
      subscription?.close();
      pipeline.endInput();
    });
    void pipeline.done.then((outcome) => {
      clearTimeout(mediaStart);
      subscription?.close();
      this.#pipelines.delete(pipeline);
      if (this.#lastPublish.get(streamName) === pipeline.done) this.#lastPublish.delete(streamName);
      if (outcome.failure !== undefined) request.close(`media pipeline failed: ${outcome.failure.message}`);
      logger.info({ inits: outcome.inits, fragments: outcome.fragments }, 'publish ended');
    });
  }
}
