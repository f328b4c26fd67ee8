/*
 * queue — the mail queue: directories, queue IDs, durable queue files, scanning.
 *
 * The one import for everything else (cleanup, qmgr, pickup, bounce, the queue tools).
 * See format.ts for the file layout and ARCHITECTURE.md "Durability" for the guarantees.
 */
export { ensureQueueDirs, QUEUE_DIRS, syncDirectory } from "./dirs.js";
export {
  type QueueEnvelope,
  QueueFileError,
  type QueueFileInfo,
  type QueueName,
  type QueueRecipient,
  type RecipientDeferral,
  type RecipientOutcome,
} from "./format.js";
export {
  appendDeferral,
  appendOutcome,
  appendWarning,
  listQueue,
  markCorrupt,
  moveQueueFile,
  queuePath,
  removeQueueFile,
  removeStaleTemps,
  scanQueue,
} from "./ops.js";
export { isQueueId, newQueueId, QUEUE_ID_LENGTH, queueIdTime } from "./queue-id.js";
export { openContent, readQueueFile, readQueueFileSync } from "./reader.js";
export { QueueFileWriter, type QueueFileWriterOptions } from "./writer.js";
