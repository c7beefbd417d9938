// ffmpeg adapter: the only place that spawns ffmpeg. Resolves the binary and runs stream-copy remuxes
// to fragmented MP4 (never transcodes), and one-shot runs (clips, still images), all with bounded
// stderr and SIGTERM→SIGKILL shutdown.
// Imports node built-ins and logging only.

export { faststartMp4Args, type StillImageOptions, stillImageArgs } from './playback-args.ts';
export { type FfmpegExit, type RemuxOptions, type RemuxProcess, spawnRemuxToFmp4 } from './remux-to-fmp4.ts';
export { FfmpegNotFoundError, resolveFfmpeg } from './resolve-ffmpeg.ts';
export { FfmpegRunError, type RunFfmpegOptions, runFfmpeg } from './run-ffmpeg.ts';
export { type FfmpegProcess, type SpawnFfmpegOptions, spawnFfmpeg } from './spawn-ffmpeg.ts';
export { StderrTail } from './stderr-tail.ts';
