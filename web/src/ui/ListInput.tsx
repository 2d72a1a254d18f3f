import { useEffect, useState } from 'preact/hooks';

/**
 * A textarea for a list of values: the person types freely (new lines, commas), the list is
 * parsed and handed over when they leave the field, and a new list from outside replaces the text.
 */
export function ListInput(props: {
  values: string[];
  split: RegExp;
  join: string;
  rows?: number;
  disabled?: boolean;
  id?: string;
  onCommit: (values: string[]) => void;
}) {
  const joined = props.values.join(props.join);
  const [text, setText] = useState(joined);
  useEffect(() => setText(joined), [joined]);
  const commit = () => {
    const values = text
      .split(props.split)
      .map((v) => v.trim())
      .filter(Boolean);
    if (values.join(props.join) !== joined) props.onCommit(values);
  };
  return (
    <textarea
      id={props.id}
      rows={props.rows ?? 2}
      value={text}
      disabled={props.disabled}
      onInput={(e) => setText(e.currentTarget.value)}
      onBlur={commit}
    />
  );
}
