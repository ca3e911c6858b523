import type { DocumentSummary, RoomSummary } from '@townsquare/client';
import { displayName } from '../format';
import { useSession } from '../context';
import { useRelayInUse } from '../hooks/useRelayInUse';
import { Avatar } from './Avatar';
import { ConnectionPill } from './ConnectionPill';
import { Icon } from './Icon';

interface SidebarProps {
  rooms: RoomSummary[] | null;
  error: string | null;
  selected: string | null;
  open: boolean;
  onSelect: (roomId: string) => void;
  onNewRoom: () => void;
  documents: DocumentSummary[] | null;
  documentsError: string | null;
  selectedDocument: string | null;
  onSelectDocument: (docId: string) => void;
  onNewDocument: () => void;
  onSignOut: () => void;
  onClose: () => void;
}

export function Sidebar(props: SidebarProps) {
  const { rooms, error, selected, open, onSelect, onNewRoom, onSignOut, onClose } = props;
  const { me, relay } = useSession();
  const inUse = useRelayInUse();
  return (
    <aside className={`sidebar${open ? ' sidebar-open' : ''}`} aria-label="Workspace">
      <div className="sidebar-top">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          Townsquare
        </div>
        <button type="button" className="icon-button sidebar-close" aria-label="Close menu" onClick={onClose}>
          <Icon name="x" />
        </button>
      </div>
      <div className="sidebar-status">
        <ConnectionPill relay={relay} />
      </div>

      <nav className="sidebar-section" aria-labelledby="rooms-heading">
        <div className="sidebar-heading">
          <h2 id="rooms-heading">Rooms</h2>
          <button type="button" className="icon-button icon-button-dark" aria-label="New room" title="New room" onClick={onNewRoom} data-testid="new-room">
            <Icon name="plus" size={16} />
          </button>
        </div>
        {error && !rooms && (
          <p className="sidebar-note" role="alert">
            Could not load rooms: {error}
          </p>
        )}
        {rooms === null && !error && <p className="sidebar-note">Loading…</p>}
        {rooms?.length === 0 && <p className="sidebar-note">No rooms yet. Create one, or ask a teammate to invite you.</p>}
        <ul className="room-list">
          {rooms?.map((room) => (
            <li key={room.roomId}>
              <button
                type="button"
                className="room-item"
                aria-current={room.roomId === selected ? 'page' : undefined}
                onClick={() => onSelect(room.roomId)}
                data-testid="room-item"
                data-room-id={room.roomId}
              >
                <Icon name="hash" size={15} />
                <span className="room-item-name">{room.name}</span>
              </button>
            </li>
          ))}
        </ul>
        <button type="button" className="sidebar-add" onClick={onNewRoom}>
          <Icon name="plus" size={15} /> Add a room
        </button>
      </nav>

      <DocumentsSection {...props} />

      <div className="sidebar-me">
        <Avatar userId={me} size="md" online decorative />
        <div className="sidebar-me-text">
          <span className="sidebar-me-name" data-testid="current-user">
            {displayName(me)}
          </span>
          <span className="sidebar-me-sub" title={`Prefers relay ${relay}`}>
            @{me}
            {inUse !== null && (
              <>
                {' · '}
                <span data-testid="relay-in-use" data-relay={inUse}>
                  relay {inUse}
                </span>
              </>
            )}
          </span>
        </div>
        <button type="button" className="icon-button icon-button-dark" aria-label="Switch user" title="Switch user" onClick={onSignOut}>
          <Icon name="logout" size={16} />
        </button>
      </div>
    </aside>
  );
}

/** The caller's documents: open one, or create one. */
function DocumentsSection({ documents, documentsError, selectedDocument, onSelectDocument, onNewDocument }: SidebarProps) {
  return (
    <nav className="sidebar-section" aria-labelledby="documents-heading">
      <div className="sidebar-heading">
        <h2 id="documents-heading">Documents</h2>
        <button type="button" className="icon-button icon-button-dark" aria-label="New document" title="New document" onClick={onNewDocument} data-testid="new-document">
          <Icon name="plus" size={16} />
        </button>
      </div>
      {documentsError && !documents && (
        <p className="sidebar-note" role="alert">
          Could not load documents: {documentsError}
        </p>
      )}
      {documents === null && !documentsError && <p className="sidebar-note">Loading…</p>}
      {documents?.length === 0 && <p className="sidebar-note">No documents yet. Create one and write it together.</p>}
      <ul className="room-list">
        {documents?.map((doc) => (
          <li key={doc.docId}>
            <button
              type="button"
              className="room-item"
              aria-current={doc.docId === selectedDocument ? 'page' : undefined}
              onClick={() => onSelectDocument(doc.docId)}
              data-testid="document-item"
              data-doc-id={doc.docId}
            >
              <Icon name="file" size={15} />
              <span className="room-item-name">{doc.title}</span>
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}
