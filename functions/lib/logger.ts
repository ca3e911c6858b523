import { Logger } from '@aws-lambda-powertools/logger';

/**
 * One structured JSON logger per container (Powertools: Lambda context and
 * cold-start fields, about a third of pino's bundle weight).
 */
export const logger = new Logger({
  serviceName: 'townsquare-functions',
  logLevel: (process.env.LOG_LEVEL ?? 'INFO').toUpperCase() as 'INFO',
});
