/*
 * errors — ConfigError, the one error type of lib/config.
 *
 * Every configuration problem (main.cf syntax, master.cf columns, bad values, $name loops)
 * becomes a ConfigError whose message reads like Postfix's: "/etc/postern/main.cf, line 12:
 * missing '=' after attribute name: "foo"". The file and line are also kept as fields so
 * `postern check` and the CLI can point at them; `detail` is the message without the place.
 * Talks to nothing. Security: messages quote configuration text only, never file contents
 * of anything but the configuration itself.
 */

/** Where a piece of configuration text came from (line 0 or absent: not from a file line). */
export interface Origin {
  readonly file?: string | undefined;
  readonly line?: number | undefined;
}

/** "/path/main.cf, line 3: " — or "/path/main.cf: " without a line, or "" without a file. */
export function originPrefix(origin: Origin | undefined): string {
  if (origin?.file === undefined) return "";
  if (origin.line === undefined || origin.line <= 0) return `${origin.file}: `;
  return `${origin.file}, line ${origin.line}: `;
}

export class ConfigError extends Error {
  readonly file?: string;
  readonly line?: number;
  /** The message without the "file, line N: " prefix. */
  readonly detail: string;

  constructor(detail: string, origin?: Origin) {
    super(originPrefix(origin) + detail);
    this.name = "ConfigError";
    this.detail = detail;
    if (origin?.file !== undefined) this.file = origin.file;
    if (origin?.line !== undefined && origin.line > 0) this.line = origin.line;
  }
}

export function isErrnoCode(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

/** "No such file or directory": the strerror-like part of a Node file system error. */
export function systemReason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const text = /^[A-Z]+: ([^,]+)/.exec(err.message)?.[1] ?? err.message;
  return text.charAt(0).toUpperCase() + text.slice(1);
}
