/*
 * errors — the protocol-neutral storage error (Dovecot's MAIL_ERROR_*): every failure of
 * lib/mailbox carries a kind, and each protocol maps kinds to its own replies (POP3:
 * "in-use" → -ERR [IN-USE], everything else → -ERR [SYS/TEMP]). Messages are for maillog,
 * never for clients.
 */

export type MailErrorKind =
  | "temp"
  | "notFound"
  | "exists"
  | "perm"
  | "noQuota"
  | "tooBig"
  | "in-use"
  | "badName" // IMAP: NO [CANNOT]; an unusable mailbox name
  | "hasChildren"; // IMAP: NO [INUSE]; DELETE of a folder with children (Dovecot)

export class MailError extends Error {
  constructor(
    readonly kind: MailErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "MailError";
  }
}

/** The errno code of a Node system error, if it is one. */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "string"
    ? err.code
    : undefined;
}
