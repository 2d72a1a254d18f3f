import { useState } from 'preact/hooks';

/** A secret or identifier with a copy button. */
export function Copyable({ value, label }: { value: string; label: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      // No clipboard permission (plain HTTP, an old browser): the value is selectable text.
      setCopied(false);
    }
  };
  return (
    <div class="copyable">
      <span class="visually-hidden">{label}:</span>
      <code>{value}</code>
      <button type="button" onClick={copy}>
        {copied ? 'Copied' : 'Copy'}
      </button>
    </div>
  );
}
