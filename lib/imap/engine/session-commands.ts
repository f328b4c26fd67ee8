/*
 * session-commands — the commands the mail engine answers itself, valid in any state after
 * login: CAPABILITY, NOOP, LOGOUT (RFC 3501 §6.1), ID (RFC 2971), ENABLE (RFC 5161:
 * CONDSTORE is the one extension it enables), NAMESPACE (RFC 2342: one personal namespace
 * with the configured separator), IDLE (RFC 2177), and the refusals of pre-login commands.
 * Returns undefined for a command that is not one of these, null when the engine has
 * answered already (IDLE continues, LOGOUT closed).
 */
import { type CommandResult, ok } from "../commands/context.js";
import type { ImapCommand } from "../parser/types.js";
import type { ImapMailEngine } from "./mail-engine.js";

export async function sessionCommand(
  cmd: ImapCommand,
  engine: ImapMailEngine,
): Promise<CommandResult | null | undefined> {
  switch (cmd.name) {
    case "CAPABILITY":
      await engine.send({ type: "CAPABILITY", capabilities: engine.capabilities });
      return ok("Capability completed.");
    case "NOOP":
      return ok("NOOP completed.");
    case "LOGOUT":
      await engine.logout(cmd.tag);
      return null;
    case "ID":
      await engine.send({ type: "ID", params: [["name", engine.implementation]] });
      return ok("ID completed.");
    case "ENABLE": {
      const enabled = cmd.capabilities.filter((c) => c.toUpperCase() === "CONDSTORE");
      if (enabled.length > 0) engine.enableCondstore();
      await engine.send({ type: "ENABLED", capabilities: enabled.length > 0 ? ["CONDSTORE"] : [] });
      return ok("Enabled.");
    }
    case "NAMESPACE":
      await engine.send({
        type: "NAMESPACE",
        personal: [{ prefix: "", delimiter: engine.settings.separator }],
        other: null,
        shared: null,
      });
      return ok("Namespace completed.");
    case "IDLE":
      await engine.startIdle(cmd.tag);
      return null;
    case "LOGIN":
    case "AUTHENTICATE":
      return { status: "BAD", code: null, text: "Already logged in." };
    case "STARTTLS":
      return { status: "BAD", code: null, text: "TLS is already active or cannot be started after login." };
    case "GETQUOTAROOT":
      return { status: "BAD", code: null, text: `Error in IMAP command ${cmd.name}: Unknown command.` };
    default:
      return undefined;
  }
}
