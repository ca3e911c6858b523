/** Path parameter schemas shared by several routes: the HTTP contract's (protocol/http.ts). */
export { MemberPath, RoomPath } from '../../protocol/index.js';
