#!/usr/bin/env node
/*
 * postern — the administration command (postfix, postconf, postmap, postalias in one).
 * Also installed as sendmail, mailq and newaliases, which it recognises by argv[0].
 */
import { basename } from "node:path";
import { main } from "../lib/cli/index.js";
import { type SendmailName, sendmailMain } from "../lib/sendmail/cli.js";

// `postern conf | head`: a reader that went away is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
}

// The package links sendmail, mailq and newaliases to this program: act as the one called.
const invokedAs = basename(process.argv[1] ?? "postern").replace(/\.js$/, "");
const legacy: readonly SendmailName[] = ["sendmail", "mailq", "newaliases"];
process.exitCode = legacy.includes(invokedAs as SendmailName)
  ? await sendmailMain(process.argv.slice(2), invokedAs as SendmailName)
  : await main(process.argv.slice(2));
