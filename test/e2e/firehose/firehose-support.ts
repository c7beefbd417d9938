import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { FirehoseClient } from '@aws-sdk/client-firehose';
import type { ObjectStore } from '../../../src/storage/index.ts';
import { TEST_KEYS } from '../../support/start-app.ts';

/** An unmodified Firehose client against a test gateway (no retries: every failure shows). */
export function firehoseClient(endpoint: string): FirehoseClient {
  return new FirehoseClient({ endpoint, region: 'us-east-1', credentials: TEST_KEYS, maxAttempts: 1 });
}

/** A fresh delivery stream name. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** A delivered object with its key relative to `firehose/<bucket>/` and its user metadata. */
export interface DeliveredObject {
  key: string;
  body: Buffer;
  firstEntry: string;
}

/** Every object under `firehose/<bucket>/<prefix>`, ordered as delivered (by first buffer entry). */
export async function deliveredObjects(
  store: ObjectStore,
  bucket: string,
  prefix = '',
): Promise<DeliveredObject[]> {
  const root = `firehose/${bucket}/`;
  const out: DeliveredObject[] = [];
  let token: string | undefined;
  do {
    const page = await store.list(root + prefix, token ? { continuationToken: token } : {});
    for (const o of page.objects) {
      const info = await store.stat(o.key);
      out.push({
        key: o.key.slice(root.length),
        body: await store.getBuffer(o.key),
        firstEntry: info?.metadata['firehose-first-entry'] ?? '',
      });
    }
    token = page.nextContinuationToken;
  } while (token);
  return out.sort((a, b) => compareEntryIds(a.firstEntry, b.firstEntry));
}

function compareEntryIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

/** Concatenated, gunzipped bodies. */
export function gunzipAll(objects: readonly DeliveredObject[]): Buffer {
  return Buffer.concat(objects.map((o) => gunzipSync(o.body)));
}

/** The JSON lines of error output objects. */
export function errorLines(objects: readonly DeliveredObject[]): Array<Record<string, unknown>> {
  return objects.flatMap((o) =>
    o.body
      .toString()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  );
}
