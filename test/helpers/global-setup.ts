// Build the relay bundle once: integration tests run the exact file the image runs.
import { buildRelayBundle } from '../../local/stack.js';

export default function setup(): void {
  buildRelayBundle();
}
