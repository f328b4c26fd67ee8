/*
 * auth-test — `postern auth test USER [PASSWORD]`: check a login against the passdb named
 * by main.cf's user_passdb (plus system users when local_system_users = yes), as
 * `doveadm auth test` does: prints "passdb: USER auth succeeded" and exits 0, or
 * "passdb: USER auth failed" and exits 77 (EX_NOPERM). Without PASSWORD the first line of
 * standard input is used. Runs in-process (no auth daemon needed), so it reads
 * /etc/shadow only when run as root.
 * Talks to: main.cf, the passwd-file, /etc/passwd and /etc/shadow. Security: never prints
 * the password or the stored hash.
 */

import { lookupPassdb } from "../auth/passdb.js";
import { closeVerifyPool, verifyPassword } from "../auth/schemes.js";
import { loadMainCf } from "../config/index.js";
import { P } from "../config/params.js";
import { type CliCommand, type CliContext, CliFatal, UsageError } from "./context.js";

export const EX_NOPERM = 77;

async function passwordFrom(ctx: CliContext, given: string | undefined): Promise<string> {
  if (given !== undefined) return given;
  return (await ctx.stdin()).toString("utf8").split(/\r?\n/)[0] ?? "";
}

export const authTestCommand: CliCommand = {
  name: "auth",
  usage: "auth test USER [PASSWORD]",
  summary: "Check a login against the passdb (as doveadm auth test)",
  async run(ctx, args) {
    const [sub, user, given, ...extra] = args;
    if (sub !== "test" || user === undefined || user === "" || extra.length > 0)
      throw new UsageError(authTestCommand.usage);
    const main = loadMainCf(ctx.configDir);
    const password = await passwordFrom(ctx, given);
    const entry = await lookupPassdb(user, {
      passwdFile: main.get(P.user_passdb),
      systemUsers: main.get(P.local_system_users),
      onWarning: (w) => ctx.warn(w),
    }).catch((e: unknown) => {
      throw new CliFatal(`passdb lookup failed: ${e instanceof Error ? e.message : String(e)}`);
    });
    let ok = false;
    try {
      ok =
        entry !== undefined &&
        entry.password !== "" &&
        password !== "" &&
        (await verifyPassword(entry.password, password));
    } finally {
      await closeVerifyPool();
    }
    ctx.out(`passdb: ${user} auth ${ok ? "succeeded" : "failed"}`);
    const fields = ok && entry !== undefined ? Object.entries(entry.extra) : [];
    if (fields.length > 0) ctx.out(`extra fields:\n${fields.map(([k, v]) => `  ${k}=${v}`).join("\n")}`);
    return ok ? 0 : EX_NOPERM;
  },
};
