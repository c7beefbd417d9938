// Ports that video-archive/ needs from elsewhere; app.ts wires them (to kms/).

/** Checks that a KMS key exists and can encrypt now, throwing the key service's error otherwise. */
export interface KeyChecker {
  checkKey(keyRef: string): Promise<void>;
}

/** Time source; injected so creation times (and later retention) can be tested. */
export interface Clock {
  now(): number;
}
