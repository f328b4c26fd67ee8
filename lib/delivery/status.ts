/*
 * status — delivery errors as data, and the errno → RFC 3463 mapping local delivery uses.
 *
 * Every delivery step (Maildir, mbox, lock, command, alias expansion) fails by throwing a
 * DeliveryError that already carries its enhanced status code, chosen where the decision is
 * made (Postfix's dsb_simple); the orchestrator only turns it into an outcome. Unknown errors
 * are never shown to anyone: they become a deferral with a generic text, the detail is kept
 * for the maillog. Talks to nothing. RFC 3463 (enhanced status codes).
 */

/** A failed delivery step: a temporary one when the status code starts with 4. */
export class DeliveryError extends Error {
  readonly dsn: string;
  /** Extra information for the maillog only (errno, paths); never sent to the sender. */
  readonly detail: string | undefined;

  constructor(dsn: string, text: string, detail?: string) {
    super(text);
    this.name = "DeliveryError";
    this.dsn = dsn;
    this.detail = detail;
  }

  get temporary(): boolean {
    return this.dsn.startsWith("4");
  }
}

/** The errno code of a Node system error, if it is one. */
export function errnoOf(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}

const ERRNO_TEXT: Readonly<Record<string, string>> = {
  EACCES: "Permission denied",
  EPERM: "Operation not permitted",
  ENOENT: "No such file or directory",
  ENOTDIR: "Not a directory",
  EISDIR: "Is a directory",
  EEXIST: "File exists",
  ENOSPC: "No space left on device",
  EDQUOT: "Disk quota exceeded",
  EFBIG: "File too large",
  EAGAIN: "Resource temporarily unavailable",
  EWOULDBLOCK: "Resource temporarily unavailable",
  ELOOP: "Too many levels of symbolic links",
  EROFS: "Read-only file system",
  EIO: "Input/output error",
  ESTALE: "Stale file handle",
};

/** strerror()-like text for an error, as Postfix's %m prints it. */
export function describeError(err: unknown): string {
  if (err instanceof DeliveryError) return err.message;
  const code = errnoOf(err);
  if (code !== undefined && ERRNO_TEXT[code] !== undefined) return ERRNO_TEXT[code];
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * The status code for a failed mailbox update (Postfix's mbox_dsn): a full mailbox or a file
 * over the size limit bounces, everything else is retried — a file system hiccup must never
 * lose mail.
 */
export function mailboxDsn(err: unknown): string {
  if (err instanceof DeliveryError) return err.dsn;
  switch (errnoOf(err)) {
    case "EDQUOT":
    case "EFBIG":
      return "5.2.2";
    case "ENOSPC":
      return "4.3.0";
    default:
      return "4.2.0";
  }
}

/** Wrap any error of a mailbox step into a DeliveryError with `prefix` before its text. */
export function mailboxError(prefix: string, err: unknown): DeliveryError {
  const detail = err instanceof DeliveryError ? err.detail : err instanceof Error ? err.message : undefined;
  return new DeliveryError(mailboxDsn(err), `${prefix}${describeError(err)}`, detail);
}

/** Thrown by writers when a message or mailbox would exceed its size limit. */
export function fileTooLarge(): DeliveryError {
  return new DeliveryError("5.2.2", "File too large");
}
