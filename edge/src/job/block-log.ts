import type { Block, BlockFinishReason } from "@bd3-serve/shared";
import type { JobDocument } from "./job-document.ts";

/**
 * The job's block log: one row per committed block with its place in the document (byte range), its token
 * ids (a resumed worker rebuilds its KV cache from them) and the `finish_reason` of the block that ended the
 * generation. Rows are append-only and small (a block holds at most BLOCK_TOKENS_MAX ids); the text itself
 * lives in the document stream (job-document.ts).
 *
 * Objects created before the document stream kept each block's text in a `blocks` table; `migrateLegacy`
 * moves those rows into the document and this log the first time such an object is opened.
 */
export const BLOCK_LOG_TABLE_SQL = `CREATE TABLE IF NOT EXISTS block_log (
  idx INTEGER PRIMARY KEY,
  start_byte INTEGER NOT NULL,
  end_byte INTEGER NOT NULL,
  token_count INTEGER NOT NULL,
  token_ids TEXT NOT NULL,
  finish_reason TEXT
);`;

export interface BlockEntry {
  index: number;
  startByte: number;
  endByte: number;
  tokenIds: number[];
  finishReason: BlockFinishReason | null;
}

interface BlockRow extends Record<string, SqlStorageValue> {
  idx: number;
  start_byte: number;
  end_byte: number;
  token_count: number;
  token_ids: string;
  finish_reason: string | null;
}

function entryOf(row: BlockRow): BlockEntry {
  return {
    index: row.idx,
    startByte: row.start_byte,
    endByte: row.end_byte,
    tokenIds: JSON.parse(row.token_ids) as number[],
    finishReason: row.finish_reason as BlockFinishReason | null,
  };
}

export class BlockLog {
  constructor(
    private readonly sql: SqlStorage,
    private readonly document: JobDocument,
  ) {}

  ensureSchema(): void {
    this.sql.exec(BLOCK_LOG_TABLE_SQL);
  }

  entry(index: number): BlockEntry | null {
    const row = this.sql.exec<BlockRow>("SELECT * FROM block_log WHERE idx = ?", index).toArray()[0];
    return row === undefined ? null : entryOf(row);
  }

  /** Appends the block's text to the document and records it. */
  append(index: number, text: string, tokenIds: readonly number[], finishReason: BlockFinishReason | null): BlockEntry {
    const { startByte, endByte } = this.document.append(text);
    this.sql.exec(
      "INSERT INTO block_log (idx, start_byte, end_byte, token_count, token_ids, finish_reason) VALUES (?, ?, ?, ?, ?, ?)",
      index,
      startByte,
      endByte,
      tokenIds.length,
      JSON.stringify(tokenIds),
      finishReason,
    );
    return { index, startByte, endByte, tokenIds: [...tokenIds], finishReason };
  }

  /** Entries with index > after, in order, at most `limit`. */
  entriesAfter(after: number, limit: number): BlockEntry[] {
    return this.sql
      .exec<BlockRow>("SELECT * FROM block_log WHERE idx > ? ORDER BY idx LIMIT ?", after, limit)
      .toArray()
      .map(entryOf);
  }

  /** Public blocks (index, text, token_count) with index > after, at most `limit`. */
  blocksAfter(after: number, limit: number): Block[] {
    return this.entriesAfter(after, limit).map((entry) => this.blockOf(entry));
  }

  blockOf(entry: BlockEntry): Block {
    return {
      index: entry.index,
      text: this.document.text(entry.startByte, entry.endByte),
      token_count: entry.tokenIds.length,
    };
  }

  committedTokenIds(): number[] {
    const ids: number[] = [];
    for (const row of this.sql.exec<{ token_ids: string }>("SELECT token_ids FROM block_log ORDER BY idx")) {
      for (const id of JSON.parse(row.token_ids) as number[]) ids.push(id);
    }
    return ids;
  }

  /** Deletes every row (retention; the document's bytes are purged with it). */
  purge(): void {
    this.sql.exec("DELETE FROM block_log");
  }

  /** Moves a pre-document object's `blocks` rows (text inline) into the document and this log, once. */
  migrateLegacy(): void {
    const legacy = this.sql
      .exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'blocks'")
      .toArray().length;
    if (legacy === 0) return;
    const hasFinishReason = this.sql
      .exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'blocks'")
      .one()
      .sql.includes("finish_reason");
    const rows = this.sql
      .exec<{ idx: number; text: string; token_ids: string; finish_reason: string | null }>(
        `SELECT idx, text, token_ids, ${hasFinishReason ? "finish_reason" : "NULL AS finish_reason"} FROM blocks ORDER BY idx`,
      )
      .toArray();
    for (const row of rows) {
      this.append(
        row.idx,
        row.text,
        JSON.parse(row.token_ids) as number[],
        row.finish_reason as BlockFinishReason | null,
      );
    }
    this.sql.exec("DROP TABLE blocks");
  }
}
