/** Previous / next over a page envelope (offset, hasMore, total). */
export function Pager(props: {
  offset: number;
  shown: number;
  total: number;
  hasMore: boolean;
  size: number;
  onOffset: (offset: number) => void;
}) {
  if (props.offset === 0 && !props.hasMore) return null;
  return (
    <nav class="pager" aria-label="Pages">
      <button
        type="button"
        disabled={props.offset === 0}
        onClick={() => props.onOffset(Math.max(0, props.offset - props.size))}
      >
        Previous
      </button>
      <span>
        {props.offset + 1}–{props.offset + props.shown} of {props.total}
      </span>
      <button type="button" disabled={!props.hasMore} onClick={() => props.onOffset(props.offset + props.size)}>
        Next
      </button>
    </nav>
  );
}
