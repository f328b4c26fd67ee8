#!/usr/bin/env node
/*
 * postern — the administration command (postfix, postconf, postmap, postalias in one).
 * Also installed as sendmail, mailq and newaliases, which it recognises by argv[0].
 */
import { main } from "../lib/cli/index.js";

// `postern conf | head`: a reader that went away is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
}

process.exitCode = await main(process.argv.slice(2));
