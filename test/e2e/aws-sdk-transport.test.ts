import { KinesisClient, ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp, TEST_KEYS } from '../support/start-app.ts';

let gateway: RunningApp;

beforeAll(async () => {
  gateway = await startApp();
});
afterAll(async () => {
  await gateway?.stop();
});

function client(
  options: { http1?: boolean; accessKeyId?: string; secretAccessKey?: string } = {},
): KinesisClient {
  return new KinesisClient({
    endpoint: gateway.endpoint,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: {
      accessKeyId: options.accessKeyId ?? TEST_KEYS.accessKeyId,
      secretAccessKey: options.secretAccessKey ?? TEST_KEYS.secretAccessKey,
    },
    ...(options.http1 ? { requestHandler: new NodeHttpHandler() } : {}),
  });
}

async function failure(
  kinesis: KinesisClient,
): Promise<Error & { $metadata: { httpStatusCode?: number; requestId?: string }; $fault: string }> {
  try {
    await kinesis.send(new ListStreamsCommand({}));
  } catch (error) {
    return error as never;
  } finally {
    kinesis.destroy();
  }
  throw new Error('expected the call to fail');
}

describe.each([
  ['HTTP/2 (the SDK default handler)', false],
  ['HTTP/1.1 (NodeHttpHandler)', true],
])('@aws-sdk/client-kinesis over %s', (_, http1) => {
  it('completes a call (ListStreams) end to end', async () => {
    const kinesis = client({ http1 });
    const out = await kinesis.send(new ListStreamsCommand({}));
    kinesis.destroy();
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(out.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Array.isArray(out.StreamNames)).toBe(true);
  });

  it('gets a well-formed UnknownOperationException for an operation the gateway does not serve', async () => {
    const kinesis = client({ http1 });
    // Rename the target before signing, as a newer SDK calling an operation we lack would.
    kinesis.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { headers: Record<string, string> };
        request.headers['x-amz-target'] = 'Kinesis_20131202.NoSuchOperation';
        return next(args);
      },
      { step: 'build' },
    );
    const error = await failure(kinesis);
    expect(error.name).toBe('UnknownOperationException');
    expect(error.message).toContain('NoSuchOperation');
    expect(error.$fault).toBe('client');
    expect(error.$metadata.httpStatusCode).toBe(400);
    expect(error.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('rejects a wrong secret with InvalidSignatureException', async () => {
    const error = await failure(client({ http1, secretAccessKey: 'not-the-secret' }));
    expect(error.name).toBe('InvalidSignatureException');
    expect(error.message).toMatch(/signature we calculated does not match/);
  });

  it('rejects an unknown access key with UnrecognizedClientException', async () => {
    const error = await failure(client({ http1, accessKeyId: 'AKIDNOBODY', secretAccessKey: 'x' }));
    expect(error.name).toBe('UnrecognizedClientException');
  });
});

describe('requests without SigV4', () => {
  it('answers MissingAuthenticationTokenException in the AWS shape', async () => {
    const response = await fetch(`${gateway.endpoint}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'Kinesis_20131202.ListStreams',
      },
      body: '{}',
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
    expect(response.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await response.json()).toEqual({
      __type: 'MissingAuthenticationTokenException',
      message: 'Missing Authentication Token',
    });
  });
});
