/*
 * pw — `postern pw -s SCHEME [-p PASSWORD] [-r ROUNDS]`: print a password hash as
 * "{SCHEME}data", like `doveadm pw`. Without -p the password is the first line of
 * standard input (so it stays out of `ps` and shell history). `-l` lists the schemes.
 * Talks to: lib/auth/schemes (worker pool for the slow schemes). Security: the password
 * is never echoed; SHA512-CRYPT is the default, as in Dovecot 2.3 for CRYPT-family use.
 */
import { parseArgs } from "node:util";
import { closeVerifyPool, HASH_SCHEMES, type HashScheme, hashPassword } from "../auth/schemes.js";
import { type CliCommand, type CliContext, CliFatal, UsageError } from "./context.js";

function schemeOf(name: string): HashScheme {
  const upper = name.toUpperCase();
  const found = HASH_SCHEMES.find((s) => s === upper);
  if (found === undefined) throw new CliFatal(`unknown scheme: ${name} (try -l)`);
  return found;
}

async function passwordFrom(ctx: CliContext, given: string | undefined): Promise<string> {
  if (given !== undefined) return given;
  const pw = (await ctx.stdin()).toString("utf8").split(/\r?\n/)[0] ?? "";
  if (pw === "") throw new CliFatal("empty password (give it with -p or on standard input)");
  return pw;
}

export const pwCommand: CliCommand = {
  name: "pw",
  usage: "pw [-l] [-s SCHEME] [-p PASSWORD] [-r ROUNDS]",
  summary: "Generate a password hash for the passwd-file (as doveadm pw)",
  async run(ctx, args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        list: { type: "boolean", short: "l" },
        scheme: { type: "string", short: "s" },
        password: { type: "string", short: "p" },
        rounds: { type: "string", short: "r" },
      },
    });
    if (positionals.length > 0) throw new UsageError(pwCommand.usage);
    if (values.list === true) {
      ctx.out(HASH_SCHEMES.join(" "));
      return 0;
    }
    const scheme = schemeOf(values.scheme ?? "SHA512-CRYPT");
    const rounds = values.rounds === undefined ? undefined : Number(values.rounds);
    if (rounds !== undefined && (!Number.isInteger(rounds) || rounds < 1))
      throw new CliFatal(`bad rounds: ${values.rounds}`);
    const password = await passwordFrom(ctx, values.password);
    try {
      ctx.out(await hashPassword(password, scheme, rounds === undefined ? {} : { rounds }));
    } finally {
      await closeVerifyPool();
    }
    return 0;
  },
};
