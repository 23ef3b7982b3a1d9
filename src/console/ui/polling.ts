/**
 * Live refresh that costs nothing while nobody looks: `load` runs now and every REFRESH_MS while
 * the document is visible, stops when the tab is hidden, and runs again at once when it shows.
 */
import { useEffect } from 'preact/hooks';

export const REFRESH_MS = 10_000;

export function useVisiblePolling(load: () => void, deps: unknown[]): void {
  useEffect(() => {
    let timer: ReturnType<typeof setInterval> | undefined;
    const sync = () => {
      clearInterval(timer);
      timer = undefined;
      if (document.visibilityState !== 'visible') return;
      load();
      timer = setInterval(load, REFRESH_MS);
    };
    sync();
    document.addEventListener('visibilitychange', sync);
    return () => {
      clearInterval(timer);
      document.removeEventListener('visibilitychange', sync);
    };
  }, deps);
}
