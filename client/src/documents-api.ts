/**
 * The documents routes over the SDK's HTTP client (token, 401 retry, typed
 * errors). Plain HTTP and no Yjs, so the core bundle stays free of it; the
 * binding that keeps a `Y.Doc` in sync is the separate `documents` entry.
 */
import type { DocumentsApi } from './document-types.js';
import type { HttpApi } from './http.js';

export function documentsApi(api: HttpApi): DocumentsApi {
  const doc = (docId: string) => `/documents/${encodeURIComponent(docId)}`;
  return {
    create: (title) => api.request('POST', '/documents', { title }),
    list: (options = {}) => {
      const params = Object.entries(options).filter(([, v]) => v !== undefined);
      const query = params.map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`).join('&');
      return api.request('GET', `/documents${query ? `?${query}` : ''}`);
    },
    addCollaborator: (docId, userId, role) => api.request('POST', `${doc(docId)}/collaborators`, { userId, ...(role && { role }) }),
    removeCollaborator: (docId, userId) => api.request<null>('DELETE', `${doc(docId)}/collaborators/${encodeURIComponent(userId)}`).then(() => undefined),
    getState: (docId, options = {}) => api.request('GET', `${doc(docId)}${options.stateVector ? `?stateVector=${encodeURIComponent(options.stateVector)}` : ''}`),
    postUpdate: (docId, update, clientUpdateId) => api.request('POST', `${doc(docId)}/updates`, { update, clientUpdateId }),
  };
}
