/**
 * A paginated table's rows: the API answers a page and the opaque cursor of the next one; "More"
 * appends the next page, and a reload starts again from the first.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, describe } from './api';

export interface Paged<T> {
  items: T[];
  next: string | null;
  more(): Promise<void>;
  reload(): Promise<void>;
}

export function usePaged<T>(path: string, field: string, onError: (message: string) => void): Paged<T> {
  const [items, setItems] = useState<T[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const fetchPage = async (cursor: string | null, append: boolean) => {
    try {
      const separator = path.includes('?') ? '&' : '?';
      const answer = await api<Record<string, unknown>>('GET', cursor === null ? path : `${path}${separator}cursor=${encodeURIComponent(cursor)}`);
      const rows = answer[field] as T[];
      setItems((current) => (append ? [...current, ...rows] : rows));
      setNext(typeof answer.next === 'string' ? answer.next : null);
    } catch (failure) {
      onError(describe(failure));
    }
  };
  useEffect(() => void fetchPage(null, false), [path]);
  return { items, next, more: () => (next === null ? Promise.resolve() : fetchPage(next, true)), reload: () => fetchPage(null, false) };
}

export function MoreButton({ paged, label }: { paged: { next: string | null; more(): Promise<void> }; label: string }) {
  if (paged.next === null) return null;
  return (
    <button type="button" class="more" onClick={() => void paged.more()}>
      {label}
    </button>
  );
}
