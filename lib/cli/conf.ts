/*
 * conf — `postern conf`, postconf(1) for postern: print effective (default), non-default
 * (-n) or default (-d) parameter values, selected names, expanded values (-x), values only
 * (-h); edit main.cf in place keeping comments (-e, -X); print master.cf entries (-M).
 */
import { parseArgs } from "node:util";
import { editMainCf, removeFromMainCf } from "../config/edit.js";
import { loadMainCf, loadMasterCf, type MasterService } from "../config/index.js";
import { ALL_PARAMS, paramByName } from "../config/params.js";
import { type CliCommand, type CliContext, UsageError } from "./context.js";

function defaultText(name: string): string | undefined {
  const d = paramByName(name);
  if (!d) return undefined;
  return typeof d.default === "function" ? d.default() : d.default;
}

function parseAssignment(text: string): [string, string] {
  const eq = text.indexOf("=");
  if (eq <= 0) throw new UsageError(`bad assignment: ${text} (expected name = value)`);
  return [text.slice(0, eq).trim(), text.slice(eq + 1).trim()];
}

function printMaster(ctx: CliContext, selected: string[]): number {
  const main = loadMainCf(ctx.configDir);
  for (const svc of loadMasterCf(main)) {
    if (selected.length > 0 && !selected.includes(svc.key) && !selected.includes(svc.name)) continue;
    ctx.out(formatMasterEntry(svc));
  }
  return 0;
}

/** One master.cf entry in postconf -M's column layout, defaults resolved. */
export function formatMasterEntry(svc: MasterService): string {
  const yn = (b: boolean) => (b ? "y" : "n");
  const wakeup = svc.wakeup > 0 ? `${svc.wakeup}${svc.wakeupConditional ? "?" : ""}` : "-";
  const cols = [
    svc.name.padEnd(10),
    svc.type.padEnd(5),
    yn(svc.private).padEnd(7),
    yn(svc.unpriv).padEnd(7),
    yn(svc.chroot).padEnd(7),
    wakeup.padEnd(7),
    String(svc.maxproc).padEnd(7),
    svc.command,
  ];
  const opts = Object.entries(svc.overrides).map(([k, v]) => `\n  -o ${k}=${v}`);
  return [cols.join(" "), ...svc.args].join(" ") + opts.join("");
}

export const confCommand: CliCommand = {
  name: "conf",
  usage:
    "conf [-d | -n] [-x] [-h] [name ...] | -e 'name = value' ... | -X name ... | -M [service[/type] ...]",
  summary: "show or edit main.cf parameters, show master.cf entries (like postconf)",
  async run(ctx, argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        d: { type: "boolean" },
        n: { type: "boolean" },
        x: { type: "boolean" },
        h: { type: "boolean" },
        e: { type: "boolean" },
        X: { type: "boolean" },
        M: { type: "boolean" },
      },
    });
    if (values.M) return printMaster(ctx, positionals);
    const file = `${ctx.configDir}/main.cf`;
    if (values.e) {
      if (positionals.length === 0) throw new UsageError("-e needs name = value arguments");
      editMainCf(file, Object.fromEntries(positionals.map(parseAssignment)));
      return 0;
    }
    if (values.X) {
      removeFromMainCf(file, positionals);
      return 0;
    }
    const main = loadMainCf(ctx.configDir);
    let names: string[];
    if (positionals.length > 0) names = positionals;
    else if (values.n) names = [...main.explicit.keys()].sort();
    else names = ALL_PARAMS.map((p) => p.name);
    let status = 0;
    for (const name of names) {
      let value: string | undefined;
      if (values.d) value = defaultText(name);
      else if (values.x) value = paramByName(name) || main.explicit.has(name) ? main.expand(name) : undefined;
      else value = main.raw(name);
      if (value === undefined) {
        ctx.warn(`${name}: unknown parameter`);
        status = 1;
        continue;
      }
      ctx.out(values.h ? value : value === "" ? `${name} =` : `${name} = ${value}`);
    }
    return status;
  },
};
