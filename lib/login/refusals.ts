/*
 * refusals — what a POP3 or IMAP client is told when its authenticated session cannot be
 * handed to the mail process: by the login process (hand-off failed) or, when the socket
 * was passed to it directly, by the mail process (cannot become the mail owner, no
 * mailbox). Dovecot's texts, so both places answer alike.
 */
import { responseBuffer } from "../imap/serializer/responses.js";
import { err } from "../pop3/protocol.js";

const INTERNAL_ERROR = "Internal error occurred. Refer to server log for more information.";

export function pop3Refusal(): Buffer {
  return err(INTERNAL_ERROR, "SYS/TEMP");
}

/** Dovecot's "[host:time]" suffix, so a user's report can be matched with the log. */
function internalError(hostname: string): string {
  const now = new Date();
  const pad = (n: number) => String(n).padStart(2, "0");
  const stamp = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())} ${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}`;
  return `${INTERNAL_ERROR} [${hostname}:${stamp}]`;
}

/** The login command's tagged NO [UNAVAILABLE], or an untagged BYE when the tag is unknown. */
export function imapRefusal(tag: string | undefined, hostname: string): Buffer {
  const text = internalError(hostname);
  return responseBuffer(
    tag === undefined
      ? { type: "status", tag: null, status: "BYE", code: { name: "UNAVAILABLE" }, text }
      : { type: "status", tag, status: "NO", code: { name: "UNAVAILABLE" }, text },
  );
}
