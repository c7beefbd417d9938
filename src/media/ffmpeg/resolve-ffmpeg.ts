import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import type { Logger } from '../../logging/index.ts';

/** No usable ffmpeg binary: neither the configured path nor `ffmpeg` on PATH is executable. */
export class FfmpegNotFoundError extends Error {
  override readonly name = 'FfmpegNotFoundError';
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    // Not there or not executable: the caller tries the next candidate.
    return false;
  }
}

/**
 * The ffmpeg binary to use: `configuredPath` (FFMPEG_PATH) when given, else the first `ffmpeg` on
 * PATH. Logs which one was chosen; throws FfmpegNotFoundError when there is none.
 */
export function resolveFfmpeg(
  configuredPath: string | undefined,
  logger: Logger,
  searchPath: string = process.env.PATH ?? '',
): string {
  if (configuredPath !== undefined && configuredPath !== '') {
    if (!isExecutable(configuredPath)) {
      throw new FfmpegNotFoundError(`FFMPEG_PATH ${configuredPath} is not an executable file`);
    }
    logger.info({ ffmpegPath: configuredPath, source: 'FFMPEG_PATH' }, 'using ffmpeg');
    return configuredPath;
  }
  for (const dir of searchPath.split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue;
    const candidate = join(dir, 'ffmpeg');
    if (isExecutable(candidate)) {
      logger.info({ ffmpegPath: candidate, source: 'PATH' }, 'using ffmpeg');
      return candidate;
    }
  }
  throw new FfmpegNotFoundError(
    'no ffmpeg found: set FFMPEG_PATH or install ffmpeg (apt-get install ffmpeg)',
  );
}
