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
 * sine tone (AAC) to `url` (rtmp://host:port/live/<StreamName>?key=<token>).
 */
export function publishRtmp(url: string, options: { seconds: number; gopSeconds?: number }): RtmpPublisher {
  const gop = String(Math.round((options.gopSeconds ?? 2) * 30));
  const child: ChildProcess = spawn(
    '/usr/bin/ffmpeg',
    [
      ...['-hide_banner', '-loglevel', 'error', '-re'],
      ...['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30'],
      ...['-f', 'lavfi', '-i', 'sine'],
      ...['-t', String(options.seconds)],
      ...['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', gop, '-keyint_min', gop],
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
