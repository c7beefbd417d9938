import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';

// A deliberately minimal RTMP publisher over a raw socket, for hostile-input tests: it completes the
// handshake, sends connect / createStream / publish as AMF0 commands, and then whatever media
// messages the test crafts (including ones no encoder would produce). It does not parse replies
// beyond waiting for the server's handshake and the publish status.

/** RTMP message type ids (RTMP spec 1.0, section 5.4 and 7.1). */
export const RTMP_TYPE = { setChunkSize: 1, audio: 8, video: 9, data: 18, command: 20 } as const;

const CHUNK_SIZE = 60_000;

function amfString(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const head = Buffer.alloc(3);
  head.writeUInt8(0x02);
  head.writeUInt16BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

function amfNumber(value: number): Buffer {
  const bytes = Buffer.alloc(9);
  bytes.writeUInt8(0x00);
  bytes.writeDoubleBE(value, 1);
  return bytes;
}

const AMF_NULL = Buffer.from([0x05]);

function amfObject(properties: Record<string, string>): Buffer {
  const parts: Buffer[] = [Buffer.from([0x03])];
  for (const [key, value] of Object.entries(properties)) {
    const name = Buffer.from(key, 'utf8');
    const length = Buffer.alloc(2);
    length.writeUInt16BE(name.length);
    parts.push(length, name, amfString(value));
  }
  parts.push(Buffer.from([0x00, 0x00, 0x09]));
  return Buffer.concat(parts);
}

/** One RTMP message as a single chunk (type 0 header); payloads up to CHUNK_SIZE after set-chunk-size. */
export function rtmpMessage(
  chunkStreamId: number,
  typeId: number,
  messageStreamId: number,
  timestampMs: number,
  payload: Buffer,
): Buffer {
  if (payload.length > CHUNK_SIZE) throw new Error('payload larger than one chunk');
  const header = Buffer.alloc(12);
  header.writeUInt8(chunkStreamId & 0x3f, 0); // fmt 0
  header.writeUIntBE(Math.min(timestampMs, 0xfffffe), 1, 3);
  header.writeUIntBE(payload.length, 4, 3);
  header.writeUInt8(typeId, 7);
  header.writeUInt32LE(messageStreamId, 8);
  return Buffer.concat([header, payload]);
}

/** A connected raw publisher that has completed the handshake and sent publish. */
export interface RawRtmpPublisher {
  socket: Socket;
  /** Sends one media (or data) message on the published stream. */
  send(typeId: number, timestampMs: number, payload: Buffer): void;
  /** Resolves when the server closes the connection. */
  closed: Promise<void>;
  isClosed(): boolean;
}

/** Connects, handshakes and publishes `streamName?key=<token>` to application `app`. */
export async function rawRtmpPublish(options: {
  port: number;
  app: string;
  streamName: string;
  token: string;
}): Promise<RawRtmpPublisher> {
  const socket = new Socket();
  socket.on('error', () => undefined); // a reset by the server is an outcome the tests look at
  let received = Buffer.alloc(0);
  let closedFlag = false;
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closedFlag = true;
      resolve();
    }),
  );
  const waitFor = (predicate: (bytes: Buffer) => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (predicate(received)) {
          socket.off('data', check);
          resolve();
        } else if (closedFlag) reject(new Error(`connection closed before ${what}`));
      };
      socket.on('data', check);
      void closed.then(check);
      check();
    });
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]).subarray(-65_536);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
    socket.connect(options.port, '127.0.0.1');
  });

  // Handshake: C0 C1, then S0 S1 S2 from the server, then C2 (echo of S1).
  const c1 = Buffer.concat([Buffer.alloc(8), randomBytes(1528)]);
  socket.write(Buffer.concat([Buffer.from([3]), c1]));
  await waitFor((bytes) => bytes.length >= 1 + 1536 + 1536, 'the handshake');
  const s1 = received.subarray(1, 1 + 1536);
  received = Buffer.alloc(0);
  socket.write(s1);

  const chunkSize = Buffer.alloc(4);
  chunkSize.writeUInt32BE(CHUNK_SIZE);
  const tcUrl = `rtmp://127.0.0.1:${options.port}/${options.app}`;
  socket.write(
    Buffer.concat([
      rtmpMessage(2, RTMP_TYPE.setChunkSize, 0, 0, chunkSize),
      rtmpMessage(
        3,
        RTMP_TYPE.command,
        0,
        0,
        Buffer.concat([
          amfString('connect'),
          amfNumber(1),
          amfObject({ app: options.app, type: 'nonprivate', flashVer: 'FMLE/3.0', tcUrl }),
        ]),
      ),
      rtmpMessage(
        3,
        RTMP_TYPE.command,
        0,
        0,
        Buffer.concat([amfString('createStream'), amfNumber(2), AMF_NULL]),
      ),
    ]),
  );
  await waitFor((bytes) => bytes.includes('_result'), 'the createStream result');
  socket.write(
    rtmpMessage(
      4,
      RTMP_TYPE.command,
      1,
      0,
      Buffer.concat([
        amfString('publish'),
        amfNumber(3),
        AMF_NULL,
        amfString(`${options.streamName}?key=${options.token}`),
        amfString('live'),
      ]),
    ),
  );
  await waitFor((bytes) => bytes.includes('NetStream.Publish.Start'), 'NetStream.Publish.Start');
  return {
    socket,
    closed,
    isClosed: () => closedFlag,
    send(typeId, timestampMs, payload) {
      if (!closedFlag)
        socket.write(rtmpMessage(typeId === RTMP_TYPE.audio ? 5 : 6, typeId, 1, timestampMs, payload));
    },
  };
}
