import { randomBytes, randomUUID } from 'node:crypto';
import { type AddressInfo, createServer } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  InvalidObjectRequestError,
  ObjectStoreError,
  S3ObjectStore,
  type S3ObjectStoreOptions,
} from '../../../src/storage/index.ts';
import { describeObjectStoreContract } from './object-store.contract.ts';

const s3 = inject('s3');

function options(overrides: Partial<S3ObjectStoreOptions> = {}): S3ObjectStoreOptions {
  return {
    endpoint: s3.endpoint,
    accessKey: s3.accessKey,
    secretKey: s3.secretKey,
    bucket: s3.bucket,
    region: s3.region,
    ...overrides,
  };
}

describeObjectStoreContract('S3ObjectStore on s3rver', async () => {
  const store = new S3ObjectStore(options());
  await store.start();
  return { store, dispose: () => store.stop() };
});

describe('S3ObjectStore', () => {
  const stores: S3ObjectStore[] = [];
  const open = (overrides: Partial<S3ObjectStoreOptions> = {}) => {
    const store = new S3ObjectStore(options(overrides));
    stores.push(store);
    return store;
  };
  const p = () => `s3-only-${randomUUID()}/`;

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.stop()));
  });

  it('fails start, ping and put clearly when the secret key is wrong, and writes nothing', async () => {
    const key = `${p()}k`;
    const wrong = open({ secretKey: 'not-the-secret' });
    // HeadBucket has no response body, so only the 403 status (AccessDenied) comes back.
    await expect(wrong.ping()).rejects.toThrow(
      /S3 HeadBucket in bucket streamgate-test at .* failed: AccessDenied/,
    );
    await expect(wrong.start()).rejects.toThrow(ObjectStoreError);
    await expect(wrong.put(key, Buffer.from('x'))).rejects.toThrow(
      /S3 PutObject ".*" .* failed: SignatureDoesNotMatch/,
    );
    expect(await open().stat(key)).toBeUndefined();
  });

  it('fails ping with an unknown access key', async () => {
    await expect(open({ accessKey: 'nobody' }).ping()).rejects.toThrow(ObjectStoreError);
    await expect(open({ accessKey: 'nobody' }).list('')).rejects.toThrow(/InvalidAccessKeyId/);
  });

  it('fails ping while its bucket is missing and creates it on start', async () => {
    const bucket = `sg-${randomUUID()}`;
    const store = open({ bucket });
    await expect(store.ping()).rejects.toThrow(`S3 bucket ${bucket} does not exist`);
    await store.start();
    await store.start();
    await expect(store.ping()).resolves.toBeUndefined();
    await store.put('k', Buffer.from('in the new bucket'));
    expect((await store.getBuffer('k')).toString()).toBe('in the new bucket');
  });

  it('fails ping when nothing listens at the endpoint', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve, reject) =>
      server.close((error) => (error ? reject(error) : resolve())),
    );
    const closedPort = port;
    await expect(open({ endpoint: `http://127.0.0.1:${closedPort}` }).ping()).rejects.toThrow(/ECONNREFUSED/);
  });

  it('buffers a stream of unknown size up to its limit and then asks for the size', async () => {
    const store = open({ maxUnknownSizeBodyBytes: 64 * 1024 });
    const prefix = p();
    const fits = randomBytes(64 * 1024);
    await store.put(`${prefix}fits`, Readable.from([fits.subarray(0, 1000), fits.subarray(1000)]));
    expect(await store.getBuffer(`${prefix}fits`)).toEqual(fits);

    const tooBig = Readable.from([randomBytes(40 * 1024), randomBytes(40 * 1024)]);
    await expect(store.put(`${prefix}too-big`, tooBig)).rejects.toThrow(InvalidObjectRequestError);
    await expect(store.put(`${prefix}too-big`, Readable.from([randomBytes(80 * 1024)]))).rejects.toThrow(
      /pass options.size/,
    );
    const withSize = randomBytes(80 * 1024);
    await store.put(`${prefix}too-big`, Readable.from([withSize]), { size: withSize.length });
    expect(await store.getBuffer(`${prefix}too-big`)).toEqual(withSize);
  });

  it('rejects an endpoint that is not an http(s) URL', () => {
    expect(() => open({ endpoint: 'ftp://127.0.0.1:21' })).toThrow(ObjectStoreError);
  });
});
