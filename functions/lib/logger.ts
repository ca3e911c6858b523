import { pino } from 'pino';

/** One JSON logger per container; CloudWatch picks the lines up from stdout. */
export const logger = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  base: { service: 'townsquare-functions' },
});
