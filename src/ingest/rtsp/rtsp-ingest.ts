import { randomUUID } from 'node:crypto';
import type { Logger } from '../../logging/index.ts';
import type { FragmenterOptions } from '../../media/fmp4/index.ts';
import type { FragmentSink } from '../ingest-ports.ts';
import type { RestartBackoffOptions } from './restart-backoff.ts';
import { RtspPuller, type RtspPullStatus } from './rtsp-puller.ts';
import { parseRtspUrl } from './rtsp-url.ts';

/** A camera to pull, as the directory lists it. */
export interface RtspSourceRef {
  streamName: string;
  /** Changes when the source is replaced: the puller restarts. */
  sourceId: string;
  transport: 'tcp' | 'udp';
}

/** Where RtspIngest finds its cameras (the app wires it to video-archive's CameraSources). */
export interface RtspSourceDirectory<Source extends RtspSourceRef = RtspSourceRef> {
  list(): Promise<Source[]>;
  /** The camera URL with credentials. */
  openUrl(source: Source): Promise<string>;
  /** Takes or renews the pull lease for `ttlMs`; true when `owner` holds it. */
  lease(streamName: string, owner: string, ttlMs: number): Promise<boolean>;
  release(streamName: string, owner: string): Promise<void>;
  reportStatus(source: Source, status: Record<string, string>): Promise<void>;
}

/** Options of RtspIngest. */
export interface RtspIngestOptions<Source extends RtspSourceRef> {
  directory: RtspSourceDirectory<Source>;
  ffmpegPath: string;
  sink: FragmentSink;
  logger: Logger;
  /** How often the camera list is re-read and leases renewed; default 2000 ms. */
  reconcileIntervalMs?: number;
  /** Lease TTL; a gateway that stops renewing loses its cameras to another after this; default 10 000 ms. */
  leaseTtlMs?: number;
  connectTimeoutMs?: number;
  stallTimeoutMs?: number;
  backoff?: RestartBackoffOptions;
  fragmenter?: FragmenterOptions;
  /** Metric hooks. */
  onRestart?: (streamName: string) => void;
  onState?: (streamName: string, status: RtspPullStatus | undefined) => void;
}

export const RTSP_INGEST_DEFAULTS = { reconcileIntervalMs: 2000, leaseTtlMs: 10_000 } as const;

interface Running<Source> {
  source: Source;
  puller: RtspPuller;
}

/**
 * RTSP pull ingest: every few seconds reads the configured cameras, takes (or renews) a Redis lease
 * per camera so exactly one gateway replica pulls it, and runs an RtspPuller for each camera it holds.
 * A removed or replaced source, or a lost lease, stops its puller.
 */
export class RtspIngest<Source extends RtspSourceRef> {
  readonly #options: RtspIngestOptions<Source>;
  readonly #logger: Logger;
  readonly #owner = randomUUID();
  readonly #running = new Map<string, Running<Source>>();
  #timer: NodeJS.Timeout | undefined;
  #reconciling: Promise<void> | undefined;
  #stopped = false;

  constructor(options: RtspIngestOptions<Source>) {
    this.#options = options;
    this.#logger = options.logger.child({ component: 'rtsp-ingest' });
  }

  /** Starts reconciling now and every reconcileIntervalMs. */
  start(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    const intervalMs = this.#options.reconcileIntervalMs ?? RTSP_INGEST_DEFAULTS.reconcileIntervalMs;
    this.#timer = setInterval(() => void this.reconcile(), intervalMs);
    this.#timer.unref();
    void this.reconcile();
  }

  /** Stops every puller and gives the leases up. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    // A pass blocked on an unreachable Redis is not waited for: it starts nothing once stopped.
    await atMost(this.#reconciling, 1000);
    await Promise.all([...this.#running.keys()].map((name) => this.#stopPuller(name)));
  }

  /** Status of the cameras this gateway pulls. */
  statuses(): Map<string, RtspPullStatus> {
    return new Map([...this.#running].map(([name, running]) => [name, running.puller.status]));
  }

  /** One pass: start, keep or stop pullers to match the directory and the leases. */
  reconcile(): Promise<void> {
    this.#reconciling ??= this.#reconcile()
      .catch((error: unknown) => this.#logger.error({ err: error }, 'RTSP source reconcile failed'))
      .finally(() => {
        this.#reconciling = undefined;
      });
    return this.#reconciling;
  }

  async #reconcile(): Promise<void> {
    if (this.#stopped) return;
    const { directory } = this.#options;
    const ttlMs = this.#options.leaseTtlMs ?? RTSP_INGEST_DEFAULTS.leaseTtlMs;
    const sources = await directory.list();
    const wanted = new Map(sources.map((source) => [source.streamName, source]));
    for (const [name, running] of this.#running) {
      const source = wanted.get(name);
      if (source === undefined || source.sourceId !== running.source.sourceId) await this.#stopPuller(name);
    }
    for (const source of sources) {
      if (this.#stopped) return;
      const held = await directory.lease(source.streamName, this.#owner, ttlMs);
      const running = this.#running.get(source.streamName);
      if (!held && running) {
        this.#logger.warn({ streamName: source.streamName }, 'RTSP source lease lost; stopping');
        await this.#stopPuller(source.streamName);
      } else if (held && !running && !this.#stopped) {
        await this.#startPuller(source);
      }
    }
  }

  async #startPuller(source: Source): Promise<void> {
    const { directory, logger } = this.#options;
    const url = parseRtspUrl(await directory.openUrl(source));
    if (this.#stopped) return;
    const report = (status: RtspPullStatus): void => {
      this.#options.onState?.(source.streamName, status);
      directory.reportStatus(source, statusToHash(status, this.#owner)).catch((error: unknown) => {
        this.#logger.warn({ err: error, streamName: source.streamName }, 'RTSP status report failed');
      });
    };
    const puller = new RtspPuller({
      streamName: source.streamName,
      url: url.url,
      secrets: url.secrets,
      transport: source.transport,
      ffmpegPath: this.#options.ffmpegPath,
      sink: this.#options.sink,
      logger,
      fragmenter: this.#options.fragmenter,
      backoff: this.#options.backoff,
      connectTimeoutMs: this.#options.connectTimeoutMs,
      stallTimeoutMs: this.#options.stallTimeoutMs,
      onStatus: report,
      onRestart: () => this.#options.onRestart?.(source.streamName),
    });
    this.#running.set(source.streamName, { source, puller });
    this.#logger.info({ streamName: source.streamName, url: url.redacted }, 'RTSP source pulling');
    puller.start();
  }

  async #stopPuller(streamName: string): Promise<void> {
    const running = this.#running.get(streamName);
    if (running === undefined) return;
    this.#running.delete(streamName);
    await running.puller.stop();
    this.#options.onState?.(streamName, undefined);
    // Best effort and bounded: with Redis unreachable a release can take 20 s to fail, and the
    // lease expires by itself after leaseTtlMs anyway.
    const release = this.#options.directory.release(streamName, this.#owner).catch((error: unknown) => {
      this.#logger.warn({ err: error, streamName }, 'RTSP lease release failed');
    });
    await atMost(release, 1000);
    this.#logger.info({ streamName }, 'RTSP source stopped');
  }
}

function statusToHash(status: RtspPullStatus, owner: string): Record<string, string> {
  const hash: Record<string, string> = {
    state: status.state,
    restarts: String(status.restarts),
    fragments: String(status.fragments),
    updatedMs: String(status.updatedMs),
    gateway: owner,
    lastError: status.lastError ?? '',
    lastFragmentMs: status.lastFragmentMs === undefined ? '' : String(status.lastFragmentMs),
    nextAttemptMs: status.nextAttemptMs === undefined ? '' : String(status.nextAttemptMs),
  };
  return hash;
}

/** Waits for `promise` (which must not reject), but at most `ms`. */
function atMost(promise: Promise<unknown> | undefined, ms: number): Promise<unknown> {
  return Promise.race([promise, new Promise((resolve) => setTimeout(resolve, ms).unref())]);
}
