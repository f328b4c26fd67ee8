/*
 * crlf — message bytes as POP3 sends them: the stored (LF) form turned into CRLF as it
 * streams, and TOP's cut after the header, the blank line and N body lines (RFC 1939 7).
 * Both work chunk by chunk with a little state, so a message is never held whole.
 */

/** Offsets of the bare LFs of the chunk being encoded, reused (grown for a chunk with more). */
let bareAt = new Int32Array(1024);

/** Adds a CR before every LF that has none; carries the last byte across chunks. */
export class CrlfEncoder {
  private last = -1;

  /**
   * One indexOf pass notes the bare LFs; the chunk is copied once into a buffer of the
   * exact size and spread in place from its end with copyWithin (Buffer.copy of a part
   * would allocate a view per line).
   */
  encode(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    let bare = 0;
    for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) {
      if ((i > 0 ? chunk[i - 1] : this.last) === 0x0d) continue;
      if (bare === bareAt.length) {
        const grown = new Int32Array(bareAt.length * 2);
        grown.set(bareAt);
        bareAt = grown;
      }
      bareAt[bare++] = i;
    }
    this.last = chunk[chunk.length - 1] ?? this.last;
    if (bare === 0) return chunk;
    const out = Buffer.allocUnsafe(chunk.length + bare);
    chunk.copy(out, 0);
    let o = out.length;
    let end = chunk.length;
    for (let k = bare - 1; k >= 0; k--) {
      const i = bareAt[k] as number;
      o -= end - i;
      out.copyWithin(o, i, end);
      out[--o] = 0x0d;
      end = i;
    }
    return out;
  }
}

/** The CRLF form of a stream of stored bytes. */
export async function* toCrlf(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const enc = new CrlfEncoder();
  for await (const chunk of source) yield enc.encode(chunk);
}

/**
 * TOP: the header, the blank line and `lines` body lines of a CRLF stream. Stops reading
 * the source (return() on it) once enough has been sent.
 */
export async function* topOf(
  crlf: AsyncIterable<Buffer> | Iterable<Buffer>,
  lines: number,
): AsyncGenerator<Buffer> {
  let inHeader = true;
  let bodyLines = 0;
  let carried = 0;
  for await (const chunk of crlf) {
    let start = 0;
    let cut = -1;
    for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) {
      // In CRLF form a line of at most one byte before its LF is the empty line "\r".
      const empty = carried + (i - start) <= 1;
      carried = 0;
      start = i + 1;
      if (inHeader) inHeader = !empty;
      else bodyLines++;
      if (!inHeader && bodyLines >= lines) {
        cut = i + 1;
        break;
      }
    }
    if (cut >= 0) {
      yield chunk.subarray(0, cut);
      return;
    }
    carried += chunk.length - start;
    yield chunk;
  }
}
