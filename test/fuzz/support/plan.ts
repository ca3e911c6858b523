/**
 * How many generated inputs a fuzz target runs, and with which seed.
 *
 * `npm test` runs a small seeded share of every target (`CI_INPUTS`); `npm run fuzz`
 * sets `FUZZ_RUNS=10000`. `FUZZ_SEED` replaces every target's fixed seed (use a fresh
 * one to explore); a failure prints the seed and `FUZZ_PATH`, which replay that run alone.
 */
interface RunParameters {
  numRuns: number;
  seed: number;
  path: string | undefined;
  endOnFailure?: boolean;
  reporter?: (details: RunDetails) => void;
}

/** What fast-check reports after a run (the fields we print). */
interface RunDetails {
  failed: boolean;
  seed: number;
  counterexamplePath: string | null;
  numRuns: number;
  errorInstance: unknown;
}

/**
 * Reports a failed live run without printing the whole batch (megabytes of generated
 * input): the error names the inputs that misbehaved; the seed and path replay the run.
 */
function conciseReporter(details: RunDetails): void {
  if (!details.failed) return;
  const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  throw new Error(
    `Property failed on run ${details.numRuns}; replay it with FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath}\n${cause}`,
  );
}

/** Inputs per target in every `npm test` run. */
export const CI_INPUTS = 200;

export interface FuzzPlan {
  /** Generated inputs this run throws at the target. */
  inputs: number;
  /** fast-check runs: `inputs / batch`, rounded up (a live run sends a batch of inputs at once). */
  runs: number;
  seed: number;
  /** `"<inputs> inputs, seed <seed>"`: goes into the test name so a failure names its seed. */
  label: string;
  /** Set when FUZZ_PATH replays a single run: fewer inputs than `inputs` are thrown. */
  replaying: boolean;
  /** Per-test timeout: generous, scaled with the inputs. */
  timeoutMs: number;
  /** fast-check parameters for a live target: no shrinking (a dead relay fails every later run). */
  live: RunParameters;
  /** fast-check parameters for a pure target (shrinking on). */
  pure: RunParameters;
}

function envInt(name: string, min: number): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

/**
 * The plan for one target. `defaultSeed` is fixed per target so CI is reproducible;
 * `batch` is how many inputs one fast-check run sends; `msPerInput` sizes the timeout.
 */
export function fuzzPlan(defaultSeed: number, options: { batch?: number; msPerInput?: number; ciInputs?: number } = {}): FuzzPlan {
  const batch = options.batch ?? 1;
  const inputs = envInt('FUZZ_RUNS', 1) ?? options.ciInputs ?? CI_INPUTS;
  const seed = envInt('FUZZ_SEED', -(2 ** 31)) ?? defaultSeed;
  const runs = Math.ceil(inputs / batch);
  // FUZZ_PATH (printed by a failure) replays exactly the failing run of that seed.
  const path = process.env.FUZZ_PATH || undefined;
  const timeoutMs = 60_000 + inputs * (options.msPerInput ?? 20);
  return {
    inputs: runs * batch,
    runs,
    seed,
    label: `${runs * batch} inputs, seed ${seed}`,
    replaying: path !== undefined,
    timeoutMs,
    live: { numRuns: runs, seed, path, endOnFailure: true, reporter: conciseReporter },
    pure: { numRuns: runs, seed, path },
  };
}
