/*
 * maps — `postern map` (postmap) and `postern aliases` (newaliases/postalias): compile
 * lookup tables into their indexed form, and query them with -q.
 */
import { parseArgs } from "node:util";
import { loadMainCf } from "../config/index.js";
import { P } from "../config/params.js";
import { compileMap, openMap } from "../maps/index.js";
import { type CliCommand, UsageError } from "./context.js";

/** Postfix accepts a bare file name for postmap: it means the default type, hash. */
function withType(spec: string): string {
  return /^[a-z-]+:/.test(spec) ? spec : `hash:${spec}`;
}

async function query(
  ctx: Parameters<CliCommand["run"]>[0],
  key: string,
  specs: string[],
  format: "postmap" | "aliases",
): Promise<number> {
  for (const spec of specs) {
    const value = await openMap(withType(spec), { format }).lookup(key.toLowerCase());
    if (value !== undefined) {
      ctx.out(value);
      return 0;
    }
  }
  return 1;
}

export const mapCommand: CliCommand = {
  name: "map",
  usage: "map [-q KEY] [type:]file ...",
  summary: "compile lookup tables (like postmap), or query them with -q",
  async run(ctx, argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { q: { type: "string" } },
    });
    if (positionals.length === 0) throw new UsageError("map [-q KEY] [type:]file ...");
    if (values.q !== undefined) return query(ctx, values.q, positionals, "postmap");
    for (const spec of positionals) await compileMap(withType(spec), { format: "postmap" });
    return 0;
  },
};

export const aliasesCommand: CliCommand = {
  name: "aliases",
  usage: "aliases [-q KEY] [[type:]file ...]",
  summary: "compile the alias database (like newaliases/postalias), or query it with -q",
  async run(ctx, argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { q: { type: "string" } },
    });
    const specs = positionals.length > 0 ? positionals : loadMainCf(ctx.configDir).get(P.alias_database);
    if (values.q !== undefined) return query(ctx, values.q, specs, "aliases");
    for (const spec of specs) await compileMap(withType(spec), { format: "aliases" });
    return 0;
  },
};
