import { useCallback, useEffect, useState } from 'react';
import { useSession } from '../context';
import { displayName } from '../format';
import { useDocuments } from '../hooks/useDocuments';
import { useRooms } from '../hooks/useRooms';
import { ConnectionBanner } from './ConnectionPill';
import { DocumentView } from './DocumentView';
import { Icon } from './Icon';
import { InviteDialog } from './InviteDialog';
import { NewDocumentDialog } from './NewDocumentDialog';
import { NewRoomDialog } from './NewRoomDialog';
import { NotificationBell } from './NotificationBell';
import { PresenceAvatars, PresenceList } from './PresenceAvatars';
import { RoomView } from './RoomView';
import { Sidebar } from './Sidebar';
import { roomChannel } from '../../../protocol/channels.js';

/** The open room lives in the URL hash (`#/rooms/r_…`), so a reload or a shared link lands in it. */
function roomFromHash(): string | null {
  return /^#\/rooms\/([A-Za-z0-9_-]{1,64})$/.exec(location.hash)?.[1] ?? null;
}

/** Likewise the open document (`#/docs/d_…`). */
function documentFromHash(): string | null {
  return /^#\/docs\/([A-Za-z0-9_-]{1,64})$/.exec(location.hash)?.[1] ?? null;
}

export function Workspace({ onSignOut }: { onSignOut: () => void }) {
  const { client, me } = useSession();
  const { rooms, error, refresh } = useRooms();
  const { documents, error: documentsError, refresh: refreshDocuments } = useDocuments();
  const [selected, setSelected] = useState<string | null>(roomFromHash);
  const [selectedDocument, setSelectedDocument] = useState<string | null>(documentFromHash);
  const [documentMembers, setDocumentMembers] = useState<string[]>([]);
  const [dialog, setDialog] = useState<'new-room' | 'invite' | 'new-document' | 'share-document' | null>(null);
  const [menuOpen, setMenuOpen] = useState(false);

  useEffect(() => {
    const onHash = () => {
      setSelected(roomFromHash());
      setSelectedDocument(documentFromHash());
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  const open = useCallback((roomId: string) => {
    location.hash = `#/rooms/${roomId}`;
    setSelected(roomId);
    setSelectedDocument(null);
    setMenuOpen(false);
  }, []);

  const openDocument = useCallback((docId: string) => {
    location.hash = `#/docs/${docId}`;
    setSelectedDocument(docId);
    setSelected(null);
    setMenuOpen(false);
  }, []);

  // Open the first room when none is chosen.
  useEffect(() => {
    if (!selected && !selectedDocument && rooms && rooms.length > 0) open(rooms[0]!.roomId);
  }, [rooms, selected, selectedDocument, open]);

  const room = rooms?.find((r) => r.roomId === selected) ?? null;
  const doc = documents?.find((d) => d.docId === selectedDocument) ?? null;

  return (
    <div className="app">
      <Sidebar
        rooms={rooms}
        error={error}
        selected={selected}
        open={menuOpen}
        onSelect={open}
        onNewRoom={() => setDialog('new-room')}
        documents={documents}
        documentsError={documentsError}
        selectedDocument={selectedDocument}
        onSelectDocument={openDocument}
        onNewDocument={() => setDialog('new-document')}
        onSignOut={onSignOut}
        onClose={() => setMenuOpen(false)}
      />
      {menuOpen && <div className="scrim" aria-hidden="true" onClick={() => setMenuOpen(false)} />}
      <main className="main">
        <header className="topbar">
          <button type="button" className="icon-button menu-button" aria-label="Open menu" onClick={() => setMenuOpen(true)}>
            <Icon name="menu" />
          </button>
          <div className="topbar-title">
            {doc ? (
              <h1 data-testid="document-title">
                <span className="hash title-icon" aria-hidden="true">
                  <Icon name="file" size={16} />
                </span>
                {doc.title}
              </h1>
            ) : room ? (
              <h1 data-testid="room-title">
                <span className="hash" aria-hidden="true">
                  #
                </span>
                {room.name}
              </h1>
            ) : (
              <h1>Hi, {displayName(me)}</h1>
            )}
          </div>
          <div className="topbar-actions">
            {room && <PresenceAvatars channel={roomChannel(room.roomId)} />}
            {doc && <PresenceList members={documentMembers} />}
            {doc && (
              <button type="button" className="button button-secondary" onClick={() => setDialog('share-document')} data-testid="share-document">
                <Icon name="userPlus" size={16} />
                <span className="hide-narrow">Share</span>
              </button>
            )}
            {room && (
              <button type="button" className="button button-secondary" onClick={() => setDialog('invite')} data-testid="invite">
                <Icon name="userPlus" size={16} />
                <span className="hide-narrow">Invite</span>
              </button>
            )}
            <NotificationBell onOpenRoom={open} />
          </div>
        </header>
        <ConnectionBanner />
        {doc ? (
          <DocumentView key={doc.docId} doc={doc} onPresence={setDocumentMembers} />
        ) : room ? (
          <RoomView key={room.roomId} room={room} />
        ) : (
          <div className="empty">
            <span className="empty-icon" aria-hidden="true">
              <Icon name="chat" size={32} />
            </span>
            <h2>{selectedDocument && documents ? 'That document is not one of yours' : selected && rooms ? 'That room is not one of yours' : 'Start a conversation'}</h2>
            <p className="muted">Create a room and invite a teammate. Open another window as them to see messages, typing and presence live.</p>
            <button type="button" className="button button-primary" onClick={() => setDialog('new-room')}>
              <Icon name="plus" size={16} /> New room
            </button>
          </div>
        )}
      </main>

      <NewRoomDialog
        open={dialog === 'new-room'}
        onClose={() => setDialog(null)}
        onCreate={async (name) => {
          const created = await client.rooms.create(name);
          await refresh();
          open(created.roomId);
        }}
      />
      <NewDocumentDialog
        open={dialog === 'new-document'}
        onClose={() => setDialog(null)}
        onCreate={async (title) => {
          const created = await client.documents.create(title);
          await refreshDocuments();
          openDocument(created.docId);
        }}
      />
      {doc && (
        <InviteDialog
          open={dialog === 'share-document'}
          kind="document"
          roomName={doc.title}
          me={me}
          onClose={() => setDialog(null)}
          onInvite={async (userId) => {
            await client.documents.addCollaborator(doc.docId, userId);
          }}
        />
      )}
      {room && (
        <InviteDialog
          open={dialog === 'invite'}
          roomName={room.name}
          me={me}
          onClose={() => setDialog(null)}
          onInvite={async (userId) => {
            await client.rooms.addMember(room.roomId, userId);
          }}
        />
      )}
    </div>
  );
}
