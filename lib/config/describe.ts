/*
 * describe — how the CLI shows parameters: `name = value` lines (postconf output) and the
 * postern.conf(5) man page generated from the parameter table.
 *
 * The man page is plain man(7) roff: NAME, SYNOPSIS, DESCRIPTION (main.cf syntax),
 * PARAMETERS (one .TP entry per parameter with its default) and SEE ALSO. All text taken
 * from the table is escaped so that groff -man -ww renders it without warnings: backslash
 * as \e, '-' as \-, and a leading '.' or "'" guarded with \&. Defaults computed from the
 * host (myhostname) are shown as computed on the machine that renders the page.
 * Talks to nothing. Security: output only.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${name} is main.cf expansion syntax here, not a template
import { ALL_PARAMS, P, type ParamDef } from "./params.js";

/** "name = value" as postconf prints it ("name =" when the value is empty). */
export function formatParam(name: string, value: string): string {
  const v = value.trim();
  return v === "" ? `${name} =` : `${name} = ${v}`;
}

/** The default of a parameter as main.cf text (a computed default is computed). */
export function defaultText(def: ParamDef): string {
  return typeof def.default === "string" ? def.default : def.default();
}

/** Escape text for a roff text line. */
export function roffEscape(text: string): string {
  const escaped = text.replace(/\\/g, "\\e").replace(/-/g, "\\-");
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
}

const SYNTAX: readonly string[] = [
  ".PP",
  "The file main.cf in the configuration directory (/etc/postern, or the directory given with",
  ".BR \\-c )",
  "holds the parameters of the postern mail system, one per logical line:",
  ".PP",
  ".RS",
  ".nf",
  "\\fIname\\fR = \\fIvalue\\fR",
  ".fi",
  ".RE",
  ".IP \\(bu 2",
  "Whitespace around the = is optional; trailing whitespace is ignored.",
  ".IP \\(bu 2",
  "A line whose first non\\-blank character is # is a comment.",
  "There are no trailing comments: a # inside a value is part of the value.",
  ".IP \\(bu 2",
  "A line that starts with whitespace continues the previous line.",
  ".IP \\(bu 2",
  "When a parameter is set more than once, the last setting wins.",
  ".IP \\(bu 2",
  "A value may refer to other parameters as $\\fIname\\fR, ${\\fIname\\fR} or $(\\fIname\\fR),",
  "expanded when the value is used.",
  "${\\fIname\\fR?\\fItext\\fR} gives \\fItext\\fR when \\fIname\\fR is not empty,",
  "${\\fIname\\fR:\\fItext\\fR} gives \\fItext\\fR when it is empty, and $$ is a literal $.",
  ".IP \\(bu 2",
  "Boolean values are yes or no; time values are a number with an optional unit",
  "s, m, h, d or w; lists are separated by commas and/or whitespace.",
  ".PP",
  "Run \\fBpostern reload\\fR after changing main.cf.",
];

function paramEntry(def: ParamDef): string[] {
  const dflt = defaultText(def).trim();
  const shown = dflt === "" ? "empty" : `\\fI${roffEscape(dflt)}\\fR`;
  return [".TP", `\\fB${roffEscape(def.name)}\\fR (default: ${shown})`, roffEscape(def.doc)];
}

/** The postern.conf(5) man page, in roff. */
export function renderConfManPage(): string {
  const version = roffEscape(defaultText(P.mail_version));
  const lines = [
    `.TH POSTERN.CONF 5 "" "postern ${version}" "File Formats"`,
    ".SH NAME",
    "postern.conf \\- postern main.cf configuration parameters",
    ".SH SYNOPSIS",
    ".B postern conf",
    '.RI [ parameter " ...]"',
    ".br",
    ".B postern conf \\-d",
    '.RI [ parameter " ...]"',
    ".SH DESCRIPTION",
    ...SYNTAX,
    ".SH PARAMETERS",
    ...ALL_PARAMS.flatMap(paramEntry),
    ".SH SEE ALSO",
    "\\fBpostern\\fR(1), \\fBmaster.cf\\fR(5), \\fBpostconf\\fR(5)",
  ];
  return `${lines.join("\n")}\n`;
}
