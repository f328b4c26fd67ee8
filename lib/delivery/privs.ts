/*
 * privs — whose files a delivery creates, and as whom a command runs.
 *
 * local runs as root and acts as the recipient: files it creates are given to the recipient
 * (fchown), commands are spawned with the recipient's uid/gid. When postern runs unprivileged
 * (the dev sandbox, the tests) it cannot change owners: deliveries are then made as the
 * current user and every chown/setuid is skipped — that is the documented behaviour, not an
 * error. Talks to nothing.
 */

/** A uid/gid pair a delivery acts as. */
export interface Privs {
  readonly uid: number;
  readonly gid: number;
}

/** Whether this process may change file owners and spawn as other users. */
export function isPrivileged(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/** The owner to give new files, or undefined when none is wanted or we cannot change it. */
export function ownerFor(uid: number | undefined, gid: number | undefined): Privs | undefined {
  if (uid === undefined || !isPrivileged()) return undefined;
  return { uid, gid: gid ?? uid };
}
