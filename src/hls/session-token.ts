import { createHmac, timingSafeEqual } from 'node:crypto';

/** KVS HLS playback modes. */
export type PlaybackMode = 'LIVE' | 'LIVE_REPLAY' | 'ON_DEMAND';
export type DiscontinuityMode = 'ALWAYS' | 'NEVER' | 'ON_DISCONTINUITY';
export type TimestampType = 'SERVER_TIMESTAMP' | 'PRODUCER_TIMESTAMP';

/** Everything a playlist or fragment request needs, carried by the session token itself. */
export interface HlsSession {
  /** Session id (random), also the member of the per-stream session set. */
  id: string;
  streamName: string;
  /** The stream incarnation: a re-created stream of the same name does not accept old tokens. */
  streamArn: string;
  mode: PlaybackMode;
  timestampType: TimestampType;
  /** Range start (LIVE_REPLAY, ON_DEMAND), epoch ms. */
  startMs: number | undefined;
  /** Range end (ON_DEMAND), epoch ms. */
  endMs: number | undefined;
  discontinuityMode: DiscontinuityMode;
  displayTimestamps: boolean;
  maxFragments: number;
  /** EXT-X-TARGETDURATION, fixed for the session (it must not change between reloads). */
  targetDurationS: number;
  createdMs: number;
  expiresMs: number;
}

/** Why a token was refused. */
export type TokenProblem = 'malformed' | 'forged' | 'expired';

const VERSION = 'v1';

/**
 * Signed, self-contained HLS session tokens: `v1.<base64url JSON>.<base64url HMAC-SHA256>`. Any replica
 * holding the same secret verifies them without a lookup; they cannot be altered or extended.
 */
export class SessionTokens {
  readonly #key: Buffer;

  /** `secret`: shared by all replicas (derived from the publish secret). */
  constructor(secret: string) {
    this.#key = createHmac('sha256', secret).update('streamgate/hls-session-token/v1').digest();
  }

  sign(session: HlsSession): string {
    const body = Buffer.from(JSON.stringify(session), 'utf8').toString('base64url');
    return `${VERSION}.${body}.${this.#mac(body)}`;
  }

  /** The session of a token, or the reason it is refused. */
  verify(token: string, nowMs: number): HlsSession | TokenProblem {
    if (token.length > 4096) return 'malformed';
    const [version, body, mac, extra] = token.split('.');
    if (version !== VERSION || !body || !mac || extra !== undefined) return 'malformed';
    const expected = Buffer.from(this.#mac(body), 'utf8');
    const given = Buffer.from(mac, 'utf8');
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'forged';
    let session: HlsSession;
    try {
      session = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as HlsSession;
    } catch {
      return 'malformed';
    }
    if (typeof session.expiresMs !== 'number' || typeof session.streamName !== 'string') return 'malformed';
    if (nowMs >= session.expiresMs) return 'expired';
    return session;
  }

  #mac(body: string): string {
    return createHmac('sha256', this.#key).update(body).digest('base64url');
  }
}
