/** A cursor-paged list as one async iterator: every item of every page, fetching the next page as it goes. */
export interface CursorPage<T> {
  data: T[];
  has_more: boolean;
  next_cursor: string | null;
}

export async function* allPages<T>(fetchPage: (cursor: string | undefined) => Promise<CursorPage<T>>) {
  let cursor: string | undefined;
  for (;;) {
    const page = await fetchPage(cursor);
    yield* page.data;
    if (!page.has_more || page.next_cursor === null) return;
    cursor = page.next_cursor;
  }
}
