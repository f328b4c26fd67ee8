/*
 * pidfile — the master lock: queue_directory/pid/master.pid, held with an exclusive fcntl
 * lock for the life of master. The kernel drops the lock when master dies, so a crash never
 * leaves a stale lock behind; a second master finds the lock taken and refuses to start.
 */
import { type FileHandle, open, readFile, rm } from "node:fs/promises";
import { lock } from "os-lock";

export interface MasterLock {
  release(): Promise<void>;
}

export class AlreadyRunningError extends Error {}

export async function acquireMasterLock(path: string, mailName: string): Promise<MasterLock> {
  const fh: FileHandle = await open(path, "a+", 0o644);
  try {
    await lock(fh.fd, { exclusive: true, immediate: true });
  } catch {
    await fh.close();
    const pid = await readPid(path);
    throw new AlreadyRunningError(
      `the ${mailName} mail system is already running${pid ? ` (pid ${pid})` : ""}`,
    );
  }
  await fh.truncate(0);
  await fh.write(`${String(process.pid).padStart(10, " ")}\n`, 0);
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await rm(path, { force: true });
      await fh.close();
    },
  };
}

export async function readPid(path: string): Promise<number | undefined> {
  try {
    const n = Number.parseInt((await readFile(path, "utf8")).trim(), 10);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** True when a master holds the lock (a pid file alone may be stale). */
export async function masterRunning(path: string): Promise<number | undefined> {
  const pid = await readPid(path);
  if (!pid) return undefined;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return undefined;
  }
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, "r+");
    await lock(fh.fd, { exclusive: true, immediate: true });
    return undefined;
  } catch {
    return pid;
  } finally {
    await fh?.close();
  }
}
