// TEMPORARY stub until the imap-fetch branch lands.
import { type CommandHandler, no } from "./context.js";
export const fetchCommand: CommandHandler<"FETCH"> = async () => no("FETCH not yet implemented.");
