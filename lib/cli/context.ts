/*
 * context — what every `postern` subcommand receives: the config directory (-c or
 * POSTERN_CONFIG_DIR), verbosity, and output helpers that print in Postfix's tool style
 * ("postern: warning: ...", "postern: fatal: ..."). Commands return an exit code.
 */
export class UsageError extends Error {}
export class CliFatal extends Error {}

export interface CliContext {
  configDir: string;
  verbose: boolean;
  out(text: string): void;
  err(text: string): void;
  warn(text: string): void;
  stdin(): Promise<Buffer>;
}

export interface CliCommand {
  name: string;
  usage: string;
  summary: string;
  run(ctx: CliContext, args: string[]): Promise<number>;
}

export function makeContext(configDir: string, verbose: boolean): CliContext {
  return {
    configDir,
    verbose,
    out: (t) => process.stdout.write(t.endsWith("\n") ? t : `${t}\n`),
    err: (t) => process.stderr.write(t.endsWith("\n") ? t : `${t}\n`),
    warn: (t) => process.stderr.write(`postern: warning: ${t}\n`),
    stdin: readStdin,
  };
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
