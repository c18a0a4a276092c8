// Request bodies as the addon takes them: a Node `Buffer` over the exact bytes.

/** Raw body bytes; a string is encoded as UTF-8. */
export type BodyInput = Uint8Array | ArrayBuffer | string | null | undefined;

export function toBuffer(body: BodyInput): Buffer | undefined {
  if (body === null || body === undefined) return undefined;
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  // A view over the same memory, no copy.
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/** Reads a Node readable stream (an `IncomingMessage`) to the end. */
export async function readStream(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk as Uint8Array));
  }
  return Buffer.concat(chunks);
}
