import { useCallback, useEffect, useRef, useState } from 'react';
import type { DocumentSummary } from '@townsquare/client';
import { useSession } from '../context';

/**
 * The caller's documents. Being added as a collaborator is not pushed, so
 * (like rooms) the list is refreshed every few seconds while the tab is
 * visible, and whenever asked.
 */
const POLL_MS = 4000;
/** The API's page size cap; the demo shows at most this many documents. */
const PAGE_LIMIT = 100;

export function useDocuments() {
  const { client } = useSession();
  const [documents, setDocuments] = useState<DocumentSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const inFlight = useRef(false);

  const refresh = useCallback(async () => {
    if (inFlight.current) return;
    inFlight.current = true;
    try {
      const page = await client.documents.list({ limit: PAGE_LIMIT });
      setDocuments([...page.documents].sort((a, b) => a.title.localeCompare(b.title)));
      setError(null);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      inFlight.current = false;
    }
  }, [client]);

  useEffect(() => {
    void refresh();
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void refresh();
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [refresh]);

  return { documents, error, refresh };
}
