/*
 * map-error — MapError, the one error type of lib/maps.
 *
 * Every problem with a lookup table (bad "type:name" spec, unsupported type, a syntax error
 * in a source file, an unreadable or corrupt compiled file) becomes a MapError whose message
 * reads like Postfix's: "/etc/postern/access, line 3: expected format: key whitespace value".
 * Talks to nothing. Security: messages quote table text, which is configuration.
 */

export class MapError extends Error {
  /** The source file, when the problem is in one. */
  readonly file?: string;
  /** 1-based line number in `file`, when known. */
  readonly line?: number;

  constructor(message: string, where?: { file: string; line?: number }) {
    const prefix =
      where === undefined
        ? ""
        : where.line === undefined
          ? `${where.file}: `
          : `${where.file}, line ${where.line}: `;
    super(prefix + message);
    this.name = "MapError";
    if (where !== undefined) {
      this.file = where.file;
      if (where.line !== undefined) this.line = where.line;
    }
  }
}

/** The message of an unknown thrown value, for wrapping fs errors into MapError. */
export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === undefined ? err.message : `${code}: ${err.message}`;
  }
  return String(err);
}
