/*
 * trigger-stream — a lasting connection to a trigger service's public socket (public/qmgr),
 * one write of request letters per wake-up.
 *
 * While master has lent the socket to the service's worker (lib/master/listeners.ts), qmgr
 * reads the letters itself, as Postfix's qmgr reads its FIFO: no process in between. While
 * master holds it, master reads the letters, wakes the worker and ends the connection, so
 * the next wake-up connects anew and reaches whoever listens then.
 * A connection that closes (or could not be made) after letters were written on it may have
 * lost some (its reader exited before reading them): `onLost` runs then, and the caller wakes
 * the service another way, so no request is lost for good.
 * Talks to: master or the trigger service's worker, on queue_directory/public/<service>.
 */
import { connect, type Socket } from "node:net";

export class TriggerStream {
  private sock: Socket | undefined;
  /** Letters were written on the current connection (its loss may have lost them). */
  private wrote = false;

  constructor(
    private readonly path: string,
    private readonly onLost: () => void,
  ) {}

  /** Send the letters, on the lasting connection (made now if there is none; writes wait for it). */
  send(letters: string): void {
    if (this.sock === undefined) this.open();
    this.wrote = true;
    this.sock?.write(letters);
  }

  /** Close the connection for good (its owner is exiting): no loss is reported. */
  close(): void {
    const sock = this.sock;
    this.sock = undefined;
    sock?.destroy();
  }

  private open(): void {
    const sock = connect(this.path);
    this.sock = sock;
    this.wrote = false;
    // The socket must not keep the process alive, and nothing but the end arrives on it.
    sock.unref();
    sock.on("data", () => undefined);
    sock.on("end", () => sock.end());
    sock.on("error", () => undefined);
    sock.on("close", () => {
      if (this.sock !== sock) return;
      this.sock = undefined;
      if (this.wrote) this.onLost();
    });
  }
}
