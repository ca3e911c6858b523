/**
 * What a server state lacks of a local `Y.Doc`: structs beyond its state
 * vector, or deletions outside its delete set (a state vector carries no
 * deletions, so both are needed to know whether to post).
 */
import * as Y from 'yjs';

export type DeleteSet = ReturnType<typeof Y.createDeleteSet>;

/** Whether `server` lacks structs `local` has (by state vector). */
export function lacksStructs(server: Map<number, number>, local: Map<number, number>): boolean {
  for (const [client, clock] of local) if ((server.get(client) ?? 0) < clock) return true;
  return false;
}

/** Whether a range deleted in `local` is not wholly deleted in `server`. */
export function lacksDeletions(server: DeleteSet, local: DeleteSet): boolean {
  // Merging sorts each client's ranges and joins adjacent ones, so one server range covers a covered local range.
  const merged = Y.mergeDeleteSets([server]);
  for (const [client, ranges] of Y.mergeDeleteSets([local]).clients) {
    const covering = merged.clients.get(client) ?? [];
    let i = 0;
    for (const { clock, len } of ranges) {
      while (i < covering.length && covering[i]!.clock + covering[i]!.len <= clock) i++;
      const range = covering[i];
      if (!range || range.clock > clock || range.clock + range.len < clock + len) return true;
    }
  }
  return false;
}
