/** Previous / next over a page envelope (nothing before it has loaded, or when it is one page). */
export function Pager(props: {
  page: { offset: number; total: number; hasMore: boolean; data: readonly unknown[] } | null | undefined;
  size: number;
  onOffset: (offset: number) => void;
}) {
  const { page } = props;
  if (!page || (page.offset === 0 && !page.hasMore)) return null;
  const { offset, total, hasMore } = page;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={offset === 0} onClick={() => props.onOffset(Math.max(0, offset - props.size))}>
        Previous
      </button>
      <span>
        {offset + 1}–{offset + page.data.length} of {total}
      </span>
      <button type="button" disabled={!hasMore} onClick={() => props.onOffset(offset + props.size)}>
        Next
      </button>
    </nav>
  );
}
