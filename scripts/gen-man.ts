/*
 * gen-man — writes man/postern.conf.5 from the parameter table (lib/config/params.ts).
 * Run with `npm run man` after adding or changing a parameter; a test fails when the
 * committed page and the table disagree.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderConfManPage } from "../lib/config/describe.js";

const target = fileURLToPath(new URL("../../man/postern.conf.5", import.meta.url));
writeFileSync(target, renderConfManPage());
