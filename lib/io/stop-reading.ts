/*
 * stop-reading — make Node stop reading a socket whose descriptor is about to go to another
 * process, so that bytes the client sends meanwhile stay in the kernel for the next holder.
 *
 * Why: a paused net.Socket keeps reading until its buffer is full (pause() only stops the
 * handle of a socket made with `onread`), and after child_process has sent a socket with
 * keepOpen false, the sender's handle goes on reading, into nothing, until the receiver
 * acknowledges it. A client that pipelines its next command right after PASS or LOGIN lost
 * those bytes in that window. Node has no public call for this: the handle's readStop() is
 * the one net.Socket itself uses when its buffer is full.
 */
import type { Socket } from "node:net";

interface StreamHandle {
  reading?: boolean;
  readStop?: () => number;
}

/** Stop reading at the handle (until something calls read() or resume() again). */
export function stopReading(socket: Socket): void {
  const handle = (socket as unknown as { _handle?: StreamHandle | null })._handle;
  if (!handle || typeof handle.readStop !== "function") return;
  handle.reading = false;
  handle.readStop();
}
