// Configuration: the environment-variable contract, validated once at start (zod), then passed inward
// as a typed, frozen object. Leaf module: imports nothing of ours.
export { type Config, ConfigError, configDocs, loadConfig } from './config.ts';
