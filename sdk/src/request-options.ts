/** Options every SDK call takes (client.ts and admin-keys.ts share them without importing each other). */
export interface RequestOptions {
  signal?: AbortSignal;
}
