import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

/** A running `ffmpeg` publishing a synthetic H.264 + AAC stream over RTMP, as OBS would. */
export interface RtmpPublisher {
  /** Resolves with ffmpeg's exit code when the publish ends. */
  exited: Promise<number | null>;
  /** Ends the publish now (SIGKILL, as a dropped connection). */
  kill(): void;
}

/**
 * `ffmpeg -re` of `seconds` of 640x360 30 fps test pattern (libx264, keyframe every `gopSeconds`) and a
 * sine tone (AAC) to `url` (rtmp://host:port/live/<StreamName>?key=<token>). Without B-frames
 * (`-tune zerolatency`) unless `bFrames`: then High profile with 2 B-frames, as OBS's x264 defaults.
 */
export function publishRtmp(
  url: string,
  options: { seconds: number; gopSeconds?: number; bFrames?: boolean },
): RtmpPublisher {
  const gop = String(Math.round((options.gopSeconds ?? 2) * 30));
  const profile = options.bFrames ? ['-profile:v', 'high', '-bf', '2'] : ['-tune', 'zerolatency'];
  const child: ChildProcess = spawn(
    '/usr/bin/ffmpeg',
    [
      ...['-hide_banner', '-loglevel', 'error', '-re'],
      ...['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30'],
      ...['-f', 'lavfi', '-i', 'sine'],
      ...['-t', String(options.seconds)],
      ...['-c:v', 'libx264', '-preset', 'veryfast', ...profile, '-g', gop, '-keyint_min', gop],
      ...['-sc_threshold', '0', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'flv', url],
    ],
    { stdio: 'ignore' },
  );
  return {
    exited: once(child, 'exit').then(([code]) => code as number | null),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
