/*
 * listeners — the sockets master owns for each master.cf service.
 *
 * inet services listen on every endpoint their name resolves to (inet_interfaces ×
 * inet_protocols for a bare port); unix and fifo services listen on a Unix-domain socket in
 * queue_directory/private/ or public/. Accepted connections are paused (pauseOnConnect) so
 * not one byte is read by master before the worker takes the socket over. A fifo service's
 * connection is only a wake-up: master reads and discards it and wakes the worker.
 * An inet socket may be lent to a worker that accepts on it itself (InetListener).
 * Binding is all or nothing: if one endpoint fails, every socket opened so far is closed.
 * Unix sockets get the mode lib/master/permissions gives them and, when master runs as
 * root, mail_owner and setgid_group as owner and group, so workers that are not root can
 * connect (connect(2) needs write permission on the socket).
 */
import { chmodSync, chownSync, mkdirSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { inetEndpoints, type MainCf, type MasterService } from "../config/index.js";
import { P } from "../config/params.js";
import { socketMode } from "./permissions.js";
import type { RawHandle } from "./protocol.js";

export interface Listener {
  /** Human-readable address, e.g. "127.0.0.1:2025" or "/spool/private/cleanup". */
  readonly address: string;
  readonly path?: string;
  /** Stop listening: master's descriptor (polled or lent) is closed. */
  close(): void;
}

/**
 * A TCP listening socket master may lend to a worker, which then accepts on it itself
 * (as Postfix's smtpd accepts on the socket master opened): no accept, hand-over and
 * "closed" report through master per connection. Master keeps a descriptor of the socket
 * all along, so the port stays bound and connections wait in the kernel's queue whoever
 * holds it; but while lent, master's descriptor is not polled: a libuv listening handle
 * cannot stop polling, so master closes its polled one and keeps the duplicate the worker
 * sent back, unpolled, until it takes the socket back (reclaim). States: polling (server),
 * lending (server, holder: sent, no duplicate yet), lent (spare, holder).
 */
export class InetListener implements Lendable {
  private server: Server | undefined;
  private spare: RawHandle | undefined;
  private holder: object | undefined;
  private closed = false;

  constructor(
    readonly address: string,
    server: Server,
    private readonly onConnection: (socket: Socket, listener: string) => void,
    private readonly warn: (text: string) => void = () => undefined,
  ) {
    this.server = server;
  }

  /** The handle to send to `holder`, or undefined when it is lent already or closed. */
  lend(holder: object): RawHandle | undefined {
    if (this.closed || this.holder !== undefined || this.server === undefined) return undefined;
    const handle = serverHandle(this.server);
    if (handle === undefined) return undefined;
    this.holder = holder;
    return handle;
  }

  /** The holder is listening and sent back a duplicate: stop polling, keep the duplicate. */
  lent(holder: object, duplicate: RawHandle): void {
    if (this.closed || this.holder !== holder || this.spare !== undefined || this.server === undefined) {
      duplicate.close();
      return;
    }
    this.spare = duplicate;
    this.server.close(() => undefined);
    this.server = undefined;
  }

  /** Master polls the socket again (the holder stopped accepting, retired, died or is being stopped). */
  reclaim(holder: object): void {
    if (this.holder !== holder) return;
    this.holder = undefined;
    const spare = this.spare;
    this.spare = undefined;
    if (spare === undefined || this.closed) return;
    const server = createServer({ pauseOnConnect: true }, (s) => this.onConnection(s, this.address));
    // Nobody would accept on the port if this failed: say so (a restart opens it anew).
    server.on("error", (err) =>
      this.warn(`${this.address}: cannot accept again after a worker had the socket: ${err.message}`),
    );
    server.listen(spare);
    this.server = server;
  }

  isLentTo(holder: object): boolean {
    return this.holder === holder;
  }

  close(): void {
    this.closed = true;
    this.server?.close(() => undefined);
    this.server = undefined;
    this.spare?.close();
    this.spare = undefined;
  }
}

/** A listening socket master can share with or lend to a worker (lib/master/pool.ts). */
export interface Lendable extends Listener {
  lend(holder: object): RawHandle | undefined;
  lent(holder: object, duplicate: RawHandle): void;
  reclaim(holder: object): void;
}

/** A Unix-domain socket master owns. */
class PathListener implements Listener {
  constructor(
    readonly address: string,
    readonly path: string,
    protected readonly server: Server,
  ) {}

  close(): void {
    this.server.close(() => undefined);
    rmSync(this.path, { force: true });
  }
}

/**
 * A fifo service's socket (public/qmgr), shared with the service's lone worker, which reads
 * the triggers of the connections it accepts itself (a cleanup keeps one open): as Postfix's
 * qmgr reads its FIFO. Master keeps polling too: its handle is the one that bound the path,
 * and libuv unlinks the path when that handle closes. What master accepts it reads and wakes
 * the worker with, as before; it ends such a connection after its first letters, so a
 * lasting one (lib/ipc/trigger-stream.ts) is made anew, and may reach the worker then.
 */
class TriggerListener extends PathListener implements Lendable {
  private holder: object | undefined;

  lend(holder: object): RawHandle | undefined {
    if (this.holder !== undefined) return undefined;
    const handle = serverHandle(this.server);
    if (handle !== undefined) this.holder = holder;
    return handle;
  }

  /** Master does not stop polling; the worker's descriptor is not needed. */
  lent(_holder: object, duplicate: RawHandle): void {
    duplicate.close();
  }

  reclaim(holder: object): void {
    if (this.holder === holder) this.holder = undefined;
  }
}

/**
 * net.Server keeps its libuv handle in _handle; child_process sends such a handle as
 * "net.Native" and the receiver gets its own descriptor of the socket, unpolled.
 */
function serverHandle(server: Server): RawHandle | undefined {
  const h = (server as unknown as { _handle?: RawHandle | null })._handle;
  return h ?? undefined;
}

export class BindError extends Error {}

/** The addresses a service listens on, as comparable strings (for reload). */
export function serviceAddresses(svc: MasterService, main: MainCf): string[] {
  if (svc.type === "inet") {
    return inetEndpoints(svc, main).map((e) =>
      e.family === 6 ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`,
    );
  }
  if (svc.type === "pass") return [];
  return [unixSocketPath(svc, main)];
}

export function unixSocketPath(svc: MasterService, main: MainCf): string {
  return join(main.get(P.queue_directory), svc.private ? "private" : "public", svc.name);
}

export async function openListeners(
  svc: MasterService,
  main: MainCf,
  onConnection: (socket: Socket, listener: string) => void,
  opts: { socketOwner?: { uid: number; gid: number }; warn?: (text: string) => void } = {},
): Promise<Listener[]> {
  const opened: Listener[] = [];
  try {
    if (svc.type === "inet") {
      for (const ep of inetEndpoints(svc, main)) {
        const address = ep.family === 6 ? `[${ep.host}]:${ep.port}` : `${ep.host}:${ep.port}`;
        const server = createServer({ pauseOnConnect: true }, (s) => onConnection(s, address));
        await listen(
          server,
          { host: ep.host, port: ep.port, ipv6Only: ep.family === 6 },
          `bind ${ep.host} port ${ep.port}`,
        );
        opened.push(new InetListener(address, server, onConnection, opts.warn));
      }
    } else if (svc.type === "unix" || svc.type === "fifo") {
      const path = unixSocketPath(svc, main);
      mkdirSync(join(path, ".."), { recursive: true });
      rmSync(path, { force: true });
      const server = createServer({ pauseOnConnect: true }, (s) => onConnection(s, path));
      await listen(server, { path }, `bind ${path}`);
      if (opts.socketOwner) chownSync(path, opts.socketOwner.uid, opts.socketOwner.gid);
      chmodSync(path, socketMode(svc));
      opened.push(
        svc.type === "fifo" ? new TriggerListener(path, path, server) : new PathListener(path, path, server),
      );
    }
  } catch (err) {
    await closeListeners(opened);
    throw err;
  }
  return opened;
}

function listen(
  server: Server,
  opts: { host?: string; port?: number; path?: string; ipv6Only?: boolean },
  what: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => {
      const why =
        e.code === "EADDRINUSE"
          ? "Address already in use"
          : e.code === "EACCES"
            ? "Permission denied"
            : e.message;
      reject(new BindError(`${what}: ${why}`));
    });
    server.listen({ ...opts, backlog: 511 }, () => {
      server.removeAllListeners("error");
      server.on("error", () => undefined);
      resolve();
    });
  });
}

/**
 * Stop accepting: the listening socket is closed at once. server.close()'s callback would
 * also wait for every connection master ever accepted to end, but those belong to workers,
 * which finish them on their own schedule: master does not wait for it.
 */
export async function closeListeners(list: readonly Listener[]): Promise<void> {
  for (const l of list) l.close();
}
