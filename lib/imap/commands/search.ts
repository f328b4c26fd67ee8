// TEMPORARY stub until the imap-search branch lands.
import { type CommandHandler, no } from "./context.js";
export const searchCommand: CommandHandler<"SEARCH"> = async () => no("SEARCH not yet implemented.");
