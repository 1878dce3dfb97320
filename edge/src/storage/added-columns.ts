/**
 * Objects created before a column existed get it on first use: every column of `columns` (name -> SQL type)
 * that `table` lacks is added with ALTER TABLE. Names and types are the code's own constants, never input.
 */
export function addMissingColumns(sql: SqlStorage, table: string, columns: Record<string, string>): void {
  const present = new Set(
    sql
      .exec<{ name: string }>(`PRAGMA table_info(${table})`)
      .toArray()
      .map((row) => row.name),
  );
  for (const [column, type] of Object.entries(columns)) {
    if (!present.has(column)) sql.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
  }
}
