/*
 * cleanup — turns an envelope and a byte stream into a durable queue file
 * (Postfix's cleanup(8), content side). See session.ts.
 */
export { localReceived, mailDate, newMessageId, type ReceivedInfo, smtpReceived } from "./added-headers.js";
export { HeaderStage, type HeaderStageEvents, isHeaderStart } from "./header-stage.js";
export { CrlfToLf } from "./line-endings.js";
export { type CleanupRequest, type CleanupResult, CleanupSession, DEFAULT_DROP_HEADERS } from "./session.js";
