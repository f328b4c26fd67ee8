#!/usr/bin/env node
/*
 * postern — the administration command (postfix, postconf, postmap, postalias in one).
 * Also installed as sendmail, mailq and newaliases, which it recognises by argv[0].
 */
import { main } from "../lib/cli/index.js";

process.exitCode = await main(process.argv.slice(2));
