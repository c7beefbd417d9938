/** A camera URL checked for use with ffmpeg's RTSP demuxer. */
export interface RtspUrl {
  /** The URL ffmpeg opens, credentials included. */
  url: string;
  /** The same URL with the password replaced by `***` (safe to show and log). */
  redacted: string;
  /** Strings that must never be logged (the password, raw and percent-encoded). */
  secrets: string[];
}

/** Why a camera URL was refused. */
export class RtspUrlError extends Error {
  override name = 'RtspUrlError';
}

export const MAX_RTSP_URL_LENGTH = 2048;

/**
 * Validates an `rtsp://` or `rtsps://` URL and merges separately given credentials into it (they win
 * over credentials in the URL). Refuses anything ffmpeg could read as an option or another protocol.
 */
export function parseRtspUrl(
  raw: string,
  credentials: { username?: string; password?: string } = {},
): RtspUrl {
  if (raw.length > MAX_RTSP_URL_LENGTH)
    throw new RtspUrlError(`the URL is longer than ${MAX_RTSP_URL_LENGTH} characters`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f\s]/.test(raw))
    throw new RtspUrlError('the URL contains whitespace or control characters');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new RtspUrlError('the URL is not a valid URL');
  }
  if (url.protocol !== 'rtsp:' && url.protocol !== 'rtsps:') {
    throw new RtspUrlError(`the URL scheme must be rtsp or rtsps, not ${url.protocol.replace(/:$/, '')}`);
  }
  if (url.hostname === '') throw new RtspUrlError('the URL has no host');
  if (url.hash !== '') throw new RtspUrlError('the URL must not have a fragment (#...)');
  if (credentials.username !== undefined) url.username = encodeURIComponent(credentials.username);
  if (credentials.password !== undefined) url.password = encodeURIComponent(credentials.password);
  if (url.password !== '' && url.username === '') throw new RtspUrlError('a password needs a username');
  const secrets = url.password === '' ? [] : [url.password, decodeURIComponent(url.password)];
  const redactedUrl = new URL(url.href);
  if (redactedUrl.password !== '') redactedUrl.password = '***';
  return {
    url: url.href,
    redacted: redactedUrl.href,
    secrets: [...new Set(secrets)].filter((s) => s.length > 0),
  };
}

/** Replaces every occurrence of the secrets (and any `user:password@` userinfo) in `text`. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text.replace(/(rtsps?:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@');
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}
