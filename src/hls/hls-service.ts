import { randomUUID } from 'node:crypto';
import { ServiceError } from '../errors/index.ts';
import { describeInitSegment } from '../media/fmp4/index.ts';
import type { RedisClient } from '../redis/index.ts';
import type { ObjectStore } from '../storage/index.ts';
import {
  type ArchiveSealer,
  type Clock,
  type FragmentIndex,
  type FragmentMetadata,
  fragmentContext,
  initContext,
  streamIdOf,
  type VideoStreamRecord,
  type VideoStreamRef,
  type VideoStreamRegistry,
} from '../video-archive/index.ts';
import { type MediaDescription, masterPlaylist, mediaPlaylist, mediaSequenceOf } from './hls-playlists.ts';
import { hlsKeys } from './keys.ts';
import type { LiveEdge } from './live-edge.ts';
import type { MediaCache } from './media-cache.ts';
import type {
  DiscontinuityMode,
  HlsSession,
  PlaybackMode,
  SessionTokens,
  TimestampType,
} from './session-token.ts';
import { ShortMemo } from './short-memo.ts';

/** KVS limits of GetHLSStreamingSessionURL. */
export const HLS_LIMITS = {
  minExpiresS: 300,
  maxExpiresS: 43_200,
  defaultExpiresS: 300,
  maxFragmentResults: 5000,
  defaultLiveFragments: 5,
  defaultOnDemandFragments: 1000,
  /** ON_DEMAND ranges are at most 24 h. */
  maxOnDemandRangeMs: 24 * 3600_000,
  /** LIVE needs a fragment this recent. */
  liveFreshnessMs: 30_000,
  /** Active sessions per stream. */
  maxSessionsPerStream: 10,
  /** New fragments of a stream are cached while a playlist of it was served this recently. */
  watchWindowMs: 300_000,
} as const;

/** GetHLSStreamingSessionURL's input, validated at the edge. */
export interface NewHlsSession {
  ref: VideoStreamRef;
  mode: PlaybackMode;
  timestampType: TimestampType;
  startMs: number | undefined;
  endMs: number | undefined;
  discontinuityMode: DiscontinuityMode;
  displayTimestamps: boolean;
  expiresS: number;
  maxFragments: number | undefined;
}

type SessionClient = RedisClient & {
  sgHlsOpenSession(key: string, nowMs: string, id: string, expiresMs: string, limit: string): Promise<number>;
};

/**
 * hls-open-session-1: KEYS[1] the stream's session set; ARGV[1] now ms, ARGV[2] session id, ARGV[3]
 * expiry ms, ARGV[4] limit. Drops expired sessions, then adds this one unless the limit is reached.
 * Returns 1, or 0 when the stream has `limit` active sessions.
 */
const OPEN_SESSION = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
`;

/**
 * KVS HLS on the fragment archive: creates signed sessions (GetHLSStreamingSessionURL) and renders
 * their playlists and media. LIVE shows the newest fragments and blocks reloads on the live edge;
 * LIVE_REPLAY replays from a start time at real-time pace; ON_DEMAND is a complete VOD playlist.
 */
export class HlsService {
  readonly #registry: VideoStreamRegistry;
  readonly #index: FragmentIndex;
  readonly #store: ObjectStore;
  readonly #sealer: ArchiveSealer;
  readonly #redis: SessionClient;
  readonly #tokens: SessionTokens;
  readonly #clock: Clock;
  readonly #liveEdge: LiveEdge;
  readonly #cache: MediaCache;

  constructor(options: {
    registry: VideoStreamRegistry;
    index: FragmentIndex;
    store: ObjectStore;
    sealer: ArchiveSealer;
    redis: RedisClient;
    tokens: SessionTokens;
    clock: Clock;
    liveEdge: LiveEdge;
    cache: MediaCache;
  }) {
    this.#registry = options.registry;
    this.#index = options.index;
    this.#store = options.store;
    this.#sealer = options.sealer;
    this.#redis = options.redis as SessionClient;
    this.#tokens = options.tokens;
    this.#clock = options.clock;
    this.#liveEdge = options.liveEdge;
    this.#cache = options.cache;
    this.#redis.defineCommand('sgHlsOpenSession', { numberOfKeys: 1, lua: OPEN_SESSION });
  }

  /** GetHLSStreamingSessionURL: a new session's token (the caller builds the URL). */
  async createSession(input: NewHlsSession): Promise<string> {
    const stream = await this.#registry.describe(input.ref);
    if (stream.status !== 'ACTIVE') {
      throw new ServiceError('ResourceNotFoundException', `The stream ${stream.name} is not ACTIVE.`);
    }
    if (stream.retentionHours === 0) {
      throw new ServiceError(
        'NoDataRetentionException',
        `The stream ${stream.name} does not retain data (DataRetentionInHours is 0).`,
      );
    }
    const now = this.#clock.now();
    const probe = await this.#probeFragments(stream, input, now);
    if (probe.length === 0) {
      throw new ServiceError(
        'ResourceNotFoundException',
        input.mode === 'LIVE'
          ? `No fragments were ingested into the stream ${stream.name} in the last ${HLS_LIMITS.liveFreshnessMs / 1000} seconds.`
          : `No fragments of the stream ${stream.name} are in the requested timestamp range.`,
      );
    }
    const maxDurationMs = Math.max(...probe.map((f) => f.durationMs));
    const session: HlsSession = {
      id: randomUUID(),
      streamName: stream.name,
      streamArn: stream.arn,
      mode: input.mode,
      timestampType: input.timestampType,
      startMs: input.startMs,
      endMs: input.endMs,
      discontinuityMode: input.discontinuityMode,
      displayTimestamps: input.displayTimestamps,
      maxFragments:
        input.maxFragments ??
        (input.mode === 'ON_DEMAND' ? HLS_LIMITS.defaultOnDemandFragments : HLS_LIMITS.defaultLiveFragments),
      targetDurationS: Math.max(1, Math.ceil(maxDurationMs / 1000)),
      createdMs: now,
      expiresMs: now + input.expiresS * 1000,
    };
    const opened = await this.#redis.sgHlsOpenSession(
      hlsKeys.sessions(stream.name),
      String(now),
      session.id,
      String(session.expiresMs),
      String(HLS_LIMITS.maxSessionsPerStream),
    );
    if (opened !== 1) {
      throw new ServiceError(
        'ClientLimitExceededException',
        `The stream ${stream.name} has ${HLS_LIMITS.maxSessionsPerStream} active HLS sessions; wait for one to expire.`,
      );
    }
    return this.#tokens.sign(session);
  }

  /** getHLSMasterPlaylist.m3u8 */
  async masterPlaylist(token: string): Promise<string> {
    const { session, stream } = await this.#open(token);
    const recent = await this.#window(session, stream);
    const newest = recent.at(-1);
    if (newest === undefined) {
      throw new ServiceError(
        'ResourceNotFoundException',
        `No fragments of the stream ${stream.name} to play.`,
      );
    }
    const init = describeInitSegment(await this.#initSegment(stream, newest.initVersion));
    const video = init.find((track) => track.kind === 'video');
    const bitrates = recent.map((f) => (f.sizeBytes * 8 * 1000) / Math.max(1, f.durationMs));
    const media: MediaDescription = {
      codecs: init.map((track) => track.codec),
      width: video?.kind === 'video' ? video.width : undefined,
      height: video?.kind === 'video' ? video.height : undefined,
      bandwidthBps: Math.max(...bitrates) * 1.1,
    };
    return masterPlaylist(token, media);
  }

  /** getHLSMediaPlaylist.m3u8; `msn` is a blocking reload's `_HLS_msn`. */
  async mediaPlaylist(token: string, msn: number | undefined, signal?: AbortSignal): Promise<string> {
    const { session, stream } = await this.#open(token);
    this.#watched.set(stream.name, this.#clock.now());
    if (msn !== undefined && session.mode === 'LIVE') {
      const newest = (await this.#index.latest(stream, { type: session.timestampType, count: 1 }))[0];
      if (newest === undefined || mediaSequenceOf(newest.fragmentNumber) < msn) {
        // A client asking far ahead is not held: at most three target durations, as RFC 8216 suggests.
        await this.#liveEdge.waitFor(stream.name, msn, session.targetDurationS * 3000, signal);
      }
    }
    const fragments = await this.#window(session, stream);
    const first = fragments[0];
    let discontinuitySequence = 0;
    if (first !== undefined && session.discontinuityMode === 'ALWAYS') {
      discontinuitySequence = mediaSequenceOf(first.fragmentNumber);
    } else if (first !== undefined && session.discontinuityMode === 'ON_DISCONTINUITY') {
      discontinuitySequence = await this.#index.initRank(stream, first.initVersion);
    }
    return mediaPlaylist({
      session,
      token,
      fragments,
      discontinuitySequence,
      ended: session.mode === 'ON_DEMAND',
    });
  }

  /** getMP4InitFragment.mp4 */
  async initFragment(token: string, initVersion: string): Promise<Buffer> {
    const { stream } = await this.#open(token);
    if (!/^[0-9a-f]{16}$/.test(initVersion)) {
      throw new ServiceError('InvalidArgumentException', 'InitVersion is not a valid init segment version.');
    }
    return this.#initSegment(stream, initVersion);
  }

  /** getMP4MediaFragment.mp4 */
  async mediaFragment(token: string, fragmentNumber: string): Promise<Buffer> {
    const { stream } = await this.#open(token);
    const [fragment] = await this.#index.get(stream, [fragmentNumber]);
    if (fragment === undefined) {
      throw new ServiceError(
        'ResourceNotFoundException',
        `The fragment ${fragmentNumber} of the stream ${stream.name} does not exist.`,
      );
    }
    return this.#cache.through(`${streamIdOf(stream)}/${fragment.fragmentNumber}`, async () =>
      this.#sealer.open(
        await this.#store.getBuffer(fragment.objectKey),
        fragmentContext(stream.arn, fragment.fragmentNumber),
      ),
    );
  }

  /**
   * Keeps decrypted media of a just-accepted init segment, or fragment of a stream someone played
   * through this replica in the last five minutes, for live viewers: unwatched streams do not fill
   * the cache.
   */
  remember(stream: Pick<VideoStreamRecord, 'name' | 'creationTimeMs'>, key: string, plaintext: Buffer): void {
    const watchedMs = this.#watched.get(stream.name);
    const watched = watchedMs !== undefined && this.#clock.now() - watchedMs < HLS_LIMITS.watchWindowMs;
    if (watched || key.startsWith('init/')) this.#cache.set(`${streamIdOf(stream)}/${key}`, plaintext);
  }

  /** Stream name → when a playlist of it was last served here (bounded by the number of streams). */
  readonly #watched = new Map<string, number>();

  async #open(token: string): Promise<{ session: HlsSession; stream: VideoStreamRecord }> {
    const verified = this.#tokens.verify(token, this.#clock.now());
    if (verified === 'expired')
      throw new ServiceError('NotAuthorizedException', 'The session token has expired.');
    if (typeof verified === 'string')
      throw new ServiceError('NotAuthorizedException', 'The session token is not valid.');
    let stream: VideoStreamRecord;
    try {
      stream = await this.#describe(verified.streamName);
    } catch {
      throw new ServiceError(
        'ResourceNotFoundException',
        `The stream ${verified.streamName} no longer exists.`,
      );
    }
    if (stream.arn !== verified.streamArn || stream.status !== 'ACTIVE') {
      throw new ServiceError(
        'ResourceNotFoundException',
        `The stream ${verified.streamName} no longer exists.`,
      );
    }
    return { session: verified, stream };
  }

  /** DescribeStream, remembered for 500 ms: every playlist and media request checks its stream. */
  #describe(name: string): Promise<VideoStreamRecord> {
    return this.#streams.get(name, { nowMs: this.#clock.now(), maxAgeMs: 500 }, () =>
      this.#registry.describe({ name }),
    );
  }

  readonly #streams = new ShortMemo<VideoStreamRecord>(1000);

  async #initSegment(stream: VideoStreamRecord, version: string): Promise<Buffer> {
    return this.#cache.through(`${streamIdOf(stream)}/init/${version}`, async () => {
      const inits = await this.#index.initSegments(stream);
      const objectKey = inits[version];
      if (objectKey === undefined) {
        throw new ServiceError(
          'ResourceNotFoundException',
          `The stream ${stream.name} has no init segment ${version}.`,
        );
      }
      return this.#sealer.open(await this.#store.getBuffer(objectKey), initContext(stream.arn, version));
    });
  }

  /** Fragments proving a new session has something to play. */
  async #probeFragments(
    stream: VideoStreamRecord,
    input: NewHlsSession,
    now: number,
  ): Promise<FragmentMetadata[]> {
    if (input.mode === 'LIVE') {
      const recent = await this.#index.latest(stream, { type: 'SERVER_TIMESTAMP', count: 10 });
      return recent.some((f) => f.serverTimestampMs >= now - HLS_LIMITS.liveFreshnessMs) ? recent : [];
    }
    const page = await this.#index.list(stream, {
      type: input.timestampType,
      startMs: input.startMs,
      endMs: input.endMs,
      maxResults: 100,
    });
    return page.fragments;
  }

  /**
   * The LIVE window, shared by every viewer of the stream until the live edge moves (or 250 ms pass,
   * should a pub/sub message be lost): a blocking reload wakes all its viewers at once, and they
   * would otherwise each read the same few index entries.
   */
  #liveWindow(stream: VideoStreamRecord, type: TimestampType, count: number): Promise<FragmentMetadata[]> {
    const edge = this.#liveEdge.newest(stream.name);
    return this.#liveWindows.get(
      `${streamIdOf(stream)}/${type}/${count}`,
      // Until a fragment was seen indexed here, nothing tells when the window moves: no reuse.
      { nowMs: this.#clock.now(), maxAgeMs: edge === undefined ? 0 : 250, tag: edge },
      () => this.#index.latest(stream, { type, count }),
    );
  }

  readonly #liveWindows = new ShortMemo<FragmentMetadata[]>(1000);

  /** The fragments a playlist shows now. */
  async #window(session: HlsSession, stream: VideoStreamRecord): Promise<FragmentMetadata[]> {
    const type = session.timestampType;
    if (session.mode === 'LIVE') return this.#liveWindow(stream, type, session.maxFragments);
    if (session.mode === 'LIVE_REPLAY') {
      const startMs = session.startMs ?? session.createdMs;
      const cursorMs = startMs + (this.#clock.now() - session.createdMs);
      const endMs = session.endMs === undefined ? cursorMs : Math.min(cursorMs, session.endMs);
      const window = await this.#index.latest(stream, { type, count: session.maxFragments, endMs });
      const at = (f: FragmentMetadata) =>
        type === 'PRODUCER_TIMESTAMP' ? f.producerTimestampMs : f.serverTimestampMs;
      return window.filter((f) => at(f) >= startMs);
    }
    const fragments: FragmentMetadata[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.#index.list(stream, {
        type,
        startMs: session.startMs,
        endMs: session.endMs,
        maxResults: Math.min(1000, session.maxFragments - fragments.length),
        nextToken,
      });
      fragments.push(...page.fragments);
      nextToken = page.nextToken;
    } while (nextToken !== undefined && fragments.length < session.maxFragments);
    return fragments;
  }
}
