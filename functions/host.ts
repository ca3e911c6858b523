/**
 * What a host that runs the handlers in its own long-lived process (the local
 * stack's API Gateway stand-in) may call besides the route list
 * (functions/routes.ts) and the handler entries it names. Lambda needs none
 * of this: a container's connections end with the container.
 */
import { closePublisher } from './lib/publisher.js';

/** Closes the connections the handlers opened (the publisher's Redis), so the host can stop Redis without an outage being logged. */
export async function closeConnections(): Promise<void> {
  await closePublisher();
}
