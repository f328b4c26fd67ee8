/*
 * fetch-items — the values of one message's FETCH response: index items straight from the
 * FolderSession snapshot (no file is opened for FLAGS, UID, INTERNALDATE, RFC822.SIZE,
 * MODSEQ), ENVELOPE/BODY/BODYSTRUCTURE from the FolderCache or else from one parse of the
 * file, and sections as literals streamed from the file.
 *
 * A message whose file is gone (a ghost another session expunged, or a file removed behind
 * our back) is answered like Dovecot: index items as usual, Dovecot's NIL replies for what
 * needed the file, and the command ends OK [EXPUNGEISSUED] (RFC 2180 §4.1.3). Any other
 * storage error gives the same NIL replies, is logged, and ends the command NO [SERVERBUG].
 * Talks to: FolderSession, FolderCache, fetch-file, lib/mime. RFCs: 3501 §6.4.5, §7.4.2;
 * 7162 §3.1.4 (MODSEQ); 3516 (BINARY, BINARY.SIZE); 2180 §4.1.3.
 * Security: section bytes are the user's own mail; cache entries are validated on read.
 */
import type { FolderCache } from "../../mailbox/cache.js";
import { MailError } from "../../mailbox/errors.js";
import type { FolderSession, MessageInfo } from "../../mailbox/folder.js";
import { buildBody, buildBodyStructure } from "../../mime/bodystructure.js";
import { buildEnvelope } from "../../mime/envelope.js";
import type { ImapValue as MimeValue } from "../../mime/imap-value.js";
import {
  applyPartial,
  type ByteRange,
  filterHeaderFields,
  findPart,
  resolveSection,
  type SectionSpec,
  slicePartial,
} from "../../mime/sections.js";
import type { MimePart } from "../../mime/structure.js";
import type { Partial, Section } from "../parser/types.js";
import type { ImapValue } from "../serializer/values.js";
import { MessageFile } from "./fetch-file.js";
import type { PlannedItem } from "./fetch-plan.js";
import {
  cachedWire,
  encodeCached,
  flagsValue,
  formatInternalDate,
  NIL_REPLIES,
  toWire,
} from "./fetch-values.js";

/** Cache keys (the value format is fetch-values' JSON, hence the version). */
export const CACHE_KEYS = {
  ENVELOPE: "envelope.v1",
  BODY: "body.v1",
  BODYSTRUCTURE: "bodystructure.v1",
} as const;

export interface ItemSources {
  readonly folder: FolderSession;
  readonly cache: FolderCache;
  readonly logError: (text: string) => void;
}

/** What happened while answering a message, for the tagged status. */
export interface MessageOutcome {
  expunged: boolean;
  failed: boolean;
}

type Item = readonly [string, ImapValue];

/** One message's answer, built lazily: the file is opened only if an item needs it. */
export class MessageAnswer {
  private file: Promise<MessageFile | null> | undefined;
  readonly outcome: MessageOutcome = { expunged: false, failed: false };

  constructor(
    private readonly src: ItemSources,
    private readonly info: MessageInfo,
  ) {}

  /** The items; index items are computed synchronously (FETCH 1:* FLAGS must be cheap). */
  async items(planned: readonly PlannedItem[]): Promise<Item[]> {
    const out: Item[] = [];
    for (const item of planned)
      out.push([item.name, item.kind === "index" ? this.indexValue(item.name) : await this.value(item)]);
    return out;
  }

  /**
   * items() without waiting, when every item is an index item or an ENVELOPE, BODY or
   * BODYSTRUCTURE the cache holds (FETCH 1:* (FLAGS UID ENVELOPE) of a folder seen before);
   * undefined when some item needs the file or a cache miss: then items() answers.
   */
  itemsNow(planned: readonly PlannedItem[]): Item[] | undefined {
    const out: Item[] = [];
    for (const item of planned) {
      if (item.kind === "index") {
        out.push([item.name, this.indexValue(item.name)]);
        continue;
      }
      if (item.kind !== "envelope" && item.kind !== "structure") return undefined;
      const cached = this.src.cache.peek(this.info.uid, CACHE_KEYS[item.name]);
      const hit = cached === undefined ? undefined : cachedWire(cached);
      if (hit === undefined) return undefined;
      out.push([item.name, hit]);
    }
    return out;
  }

  /** Lets go of the file once the response has been sent (streams keep their own hold). */
  async close(): Promise<void> {
    if (this.file === undefined) return;
    (await this.file)?.release();
  }

  private async value(item: Exclude<PlannedItem, { kind: "index" }>): Promise<ImapValue> {
    switch (item.kind) {
      case "envelope":
      case "structure":
        return this.structureValue(item.name);
      case "section":
        return (await this.sectionValue(item.section, item.partial)) ?? null;
      case "binary":
        return (await this.binaryValue(item.part, item.partial, item.sizeOnly)) ?? (item.sizeOnly ? 0 : null);
    }
  }

  private indexValue(name: Extract<PlannedItem, { kind: "index" }>["name"]): ImapValue {
    const m = this.info;
    switch (name) {
      case "UID":
        return m.uid;
      case "FLAGS":
        return flagsValue(m.flags, this.src.folder.isRecent(m.uid));
      case "INTERNALDATE":
        return formatInternalDate(m.internalDate);
      case "RFC822.SIZE":
        return m.crlfSize;
      case "MODSEQ":
        return [m.modseq];
    }
  }

  private async structureValue(name: keyof typeof CACHE_KEYS): Promise<ImapValue> {
    const key = CACHE_KEYS[name];
    const cached = await this.src.cache.get(this.info.uid, key).catch(() => undefined);
    const hit = cached === undefined ? undefined : cachedWire(cached);
    if (hit !== undefined) return hit;
    const tree = await this.tree();
    if (tree === null) return NIL_REPLIES[name];
    const value: MimeValue =
      name === "ENVELOPE"
        ? buildEnvelope(tree.envelope)
        : name === "BODY"
          ? buildBody(tree)
          : buildBodyStructure(tree);
    // Not awaited: the cache batches appends, one write for many messages of this FETCH.
    // The callback holds the uid, not this answer: until the batch is written, a FETCH 1:*
    // of 100,000 messages would otherwise keep every message's parse tree alive.
    const { uid } = this.info;
    const { logError } = this.src;
    this.src.cache.set(uid, key, encodeCached(value), (err) =>
      logError(`FETCH: caching ${key} of uid=${uid}: ${String(err)}`),
    );
    return toWire(value);
  }

  /** BODY[...], RFC822*: a literal, "" for a part that does not exist, undefined (NIL) without file. */
  private async sectionValue(section: Section, partial: Partial | null): Promise<ImapValue | undefined> {
    const file = await this.open();
    if (file === null) return undefined;
    const cut = partial === null ? null : { start: partial.offset, length: partial.length };
    if (section.part.length === 0 && section.text === null)
      return file.literalValue(applyPartial({ offset: 0, length: this.info.crlfSize }, cut));
    const tree = await this.tree();
    if (tree === null) return undefined;
    const data = resolveSection(tree, toSpec(section));
    if (data === null) return { literal: Buffer.alloc(0) };
    if (data.kind === "range") return file.literalValue(applyPartial(data.range, cut));
    const header = await file.read(data.header);
    return { literal: slicePartial(filterHeaderFields(header, data.fields, data.exclude), cut) };
  }

  /** BINARY[part]<partial> (a literal8 when the content holds NUL) or BINARY.SIZE[part]. */
  private async binaryValue(
    part: readonly number[],
    partial: Partial | null,
    sizeOnly: boolean,
  ): Promise<ImapValue | undefined> {
    const file = await this.open();
    const tree = file === null ? null : await this.tree();
    if (file === null || tree === null) return undefined;
    const target = part.length === 0 ? null : findPart(tree, part);
    if (part.length > 0 && target === null) return sizeOnly ? 0 : { literal: Buffer.alloc(0) };
    const range: ByteRange =
      target === null
        ? { offset: 0, length: tree.end }
        : { offset: target.bodyStart, length: target.end - target.bodyStart };
    const encoding = target === null || target.kind !== "leaf" ? null : target.encoding;
    const { size, nul } = await file.decodedSize(range, encoding);
    if (sizeOnly) return size;
    const cut = applyPartial(
      { offset: 0, length: size },
      partial && { start: partial.offset, length: partial.length },
    );
    const literal: ImapValue = { stream: file.decodedLiteral(range, encoding, cut.offset, cut.length) };
    // RFC 3516 literal8: "~{n}"; written as an atom joined to the literal
    return nul ? { joined: [{ atom: "~" }, literal] } : literal;
  }

  private async tree(): Promise<MimePart | null> {
    const file = await this.open();
    if (file === null) return null;
    try {
      return await file.tree();
    } catch (err) {
      this.fail(err);
      return null;
    }
  }

  private open(): Promise<MessageFile | null> {
    this.file ??= this.src.folder.isExpunged(this.info.uid)
      ? Promise.resolve(this.gone())
      : MessageFile.open(this.src.folder, this.info.uid).catch((err: unknown) =>
          err instanceof MailError && err.kind === "notFound" ? this.gone() : this.fail(err),
        );
    return this.file;
  }

  private gone(): null {
    this.outcome.expunged = true;
    return null;
  }

  private fail(err: unknown): null {
    this.outcome.failed = true;
    this.src.logError(`FETCH uid=${this.info.uid}: ${err instanceof Error ? err.message : String(err)}`);
    return null;
  }
}

function toSpec(section: Section): SectionSpec {
  const text = section.text;
  if (text === null) return { part: section.part, text: null };
  if (text.kind === "HEADER.FIELDS" || text.kind === "HEADER.FIELDS.NOT")
    return { part: section.part, text: text.kind, fields: text.fields };
  return { part: section.part, text: text.kind };
}
