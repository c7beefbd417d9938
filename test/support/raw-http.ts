import { connect, type Socket } from 'node:net';

/** What came back on a raw socket: the bytes, and how the connection ended. */
export interface RawExchange {
  response: string;
  status: number | undefined;
  closedByServer: boolean;
}

/**
 * Writes `chunks` on a fresh TCP connection (optionally leaving it open), then collects what the
 * server sends until it closes the socket or `waitMs` passes. For hostile-input tests that no HTTP
 * client library would send.
 */
export function rawExchange(
  port: number,
  chunks: ReadonlyArray<string | Buffer>,
  options: { endAfterWrite?: boolean; waitMs?: number } = {},
): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let settled = false;
    const finish = (closedByServer: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const response = Buffer.concat(received).toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(response)?.[1];
      resolve({ response, status: status ? Number(status) : undefined, closedByServer });
    };
    const timer = setTimeout(() => finish(false), options.waitMs ?? 10_000);
    socket.on('data', (chunk) => received.push(chunk));
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') finish(true);
      else if (!settled) {
        settled = true;
        clearTimeout(timer);
        reject(error);
      }
    });
    socket.on('connect', () => {
      for (const chunk of chunks) socket.write(chunk);
      if (options.endAfterWrite) socket.end();
    });
  });
}

/** The JSON body of a raw HTTP/1.1 response (after the blank line). */
export function jsonBody(response: string): unknown {
  const start = response.indexOf('\r\n\r\n');
  return JSON.parse(response.slice(start + 4));
}
