import { useEffect, useRef, useState } from 'react';
import * as Y from 'yjs';
import { basicSetup } from 'codemirror';
import { EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { yCollab } from 'y-codemirror.next';
import type { DocumentSummary } from '@townsquare/client';
import { openDocument, type DocumentHandle, type DocumentState } from '@townsquare/client/documents';
import { useSession } from '../context';
import { colourFor, displayName, listNames } from '../format';
import { Avatar } from './Avatar';

/** The shared text's name in the Y.Doc (any client editing the same document must use the same). */
const TEXT_NAME = 'text';

interface Cursor {
  clientId: number;
  userId: string;
  name: string;
  colour: string;
}

/**
 * One shared document: a CodeMirror 6 editor bound to the document's Y.Text
 * with y-codemirror.next (remote cursors and selections with names and
 * colours come from the awareness the SDK keeps in sync), who has it open,
 * and whether every change is saved.
 */
export function DocumentView({ doc, onPresence }: { doc: DocumentSummary; onPresence: (members: string[]) => void }) {
  const { client, me } = useSession();
  const host = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<DocumentState>('loading');
  const [unsaved, setUnsaved] = useState(0);
  const [cursors, setCursors] = useState<Cursor[]>([]);
  const [failure, setFailure] = useState<string | null>(null);

  useEffect(() => {
    const handle: DocumentHandle = openDocument(client, doc.docId);
    const awareness = handle.awareness!;
    const ytext = handle.doc.getText(TEXT_NAME);
    const colour = colourFor(me);
    awareness.setLocalStateField('user', { name: displayName(me), userId: me, color: colour, colorLight: `${colour}33` });
    const view = new EditorView({
      state: EditorState.create({
        doc: ytext.toString(),
        extensions: [basicSetup, EditorView.lineWrapping, yCollab(ytext, awareness, { undoManager: new Y.UndoManager(ytext) })],
      }),
      parent: host.current!,
    });

    const showCursors = () =>
      setCursors(
        [...awareness.getStates()]
          .filter(([id, s]) => id !== awareness.clientID && s.user)
          .map(([clientId, s]) => ({ clientId, userId: String(s.user.userId ?? s.user.name), name: String(s.user.name), colour: String(s.user.color) })),
      );
    const countUnsaved = () => setUnsaved(handle.unsaved);
    awareness.on('change', showCursors);
    handle.doc.on('update', countUnsaved);
    const stops = [
      handle.on('state', ({ state: next, reason }) => {
        setState(next);
        if (next === 'failed') setFailure(reason ?? 'no access');
      }),
      handle.on('saved', countUnsaved),
      handle.on('presence', ({ members }) => onPresence(members)),
    ];
    return () => {
      stops.forEach((stop) => stop());
      awareness.off('change', showCursors);
      handle.doc.off('update', countUnsaved);
      view.destroy();
      onPresence([]);
      // Unsaved changes are still posted for a few seconds after the view goes.
      void handle.close();
    };
  }, [client, doc.docId, me, onPresence]);

  const status =
    state === 'failed'
      ? 'No access'
      : state === 'loading'
        ? 'Loading…'
        : state === 'offline'
          ? unsaved > 0
            ? `Offline · ${unsaved} change${unsaved === 1 ? '' : 's'} kept`
            : 'Offline'
          : unsaved > 0
            ? 'Saving…'
            : 'Saved';

  return (
    <div className="document" data-testid="document-view" data-doc-id={doc.docId} data-state={state}>
      <div className="document-bar">
        <span className={`document-status document-status-${state === 'live' && unsaved === 0 ? 'saved' : state}`} data-testid="document-status" role="status">
          {status}
        </span>
        {cursors.length > 0 && (
          <span className="document-cursors" aria-label={`Editing with you: ${listNames(cursors.map((c) => c.userId))}`} data-testid="document-cursors">
            {cursors.map((c) => (
              <span key={c.clientId} className="document-cursor" style={{ borderColor: c.colour }} title={`${c.name}'s cursor`}>
                <Avatar userId={c.userId} size="sm" decorative />
                {c.name}
              </span>
            ))}
          </span>
        )}
      </div>
      {failure && (
        <p className="notice notice-error" role="alert" data-testid="document-unavailable">
          This document is not available to you any more (you may have been removed). Your changes are not saved.
        </p>
      )}
      <div className="document-editor" ref={host} data-testid="document-editor" />
    </div>
  );
}
