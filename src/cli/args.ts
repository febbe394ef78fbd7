// The command line of every script (src/cli/, scripts/, bench/run.ts), on node:util's parseArgs: `--help` / `-h`
// prints the usage and exits 0; an unknown option, a missing value, a wrong number of arguments or a bad value is
// one line on stderr (`outbox: Unknown option '--frob' (try --help)`) and exit code 2, never a stack trace.
// Exit codes: 0 done, 1 failed, 2 bad usage. Imports nothing but node: a script parses its arguments before it
// loads the application, so `--help` and mistakes answer at once and touch no database.
import { type ParseArgsConfig, parseArgs } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
const HELP = { help: { type: 'boolean', short: 'h' } } as const;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ options: O & typeof HELP; allowPositionals: true; strict: true }>>;

export interface CliSpec<O extends Options> {
  /** The script's name, as its errors start: `catalog:import`. */
  readonly name: string;
  /** The text `--help` prints (a function: computed only then). */
  readonly usage: string | (() => string | Promise<string>);
  /** The options besides `--help` / `-h`. */
  readonly options?: O;
  /**
   * The positional arguments, in order: `file` is required, `file?` optional, `name...` one or more,
   * `pattern?...` any number. None: the script takes none.
   */
  readonly positionals?: readonly string[];
  /** The error for a missing positional, by its name (default: `<name> is required`). */
  readonly missing?: Readonly<Record<string, string>>;
  /** The arguments (default: process.argv after the script). */
  readonly args?: readonly string[];
}

export interface Cli<O extends Options> {
  readonly values: Parsed<O>['values'];
  readonly positionals: string[];
  /** A usage mistake found after parsing (a bad value): one line, exit 2. */
  usageError(message: string): never;
  /** A failure that is not a bug (no such file, no database): one line, exit 1 (or `code`). */
  fail(message: string, code?: number): never;
  /** A string option as a whole number within [min, max]; undefined when not given; a usage error otherwise. */
  integer(option: keyof O & string, range?: { min?: number; max?: number }): number | undefined;
  /** Exits with one line when `error` is the user's or the environment's fault (see isUserError); returns otherwise (rethrow it). */
  exitOnUserError(error: unknown, code?: number): void;
}

/** The first sentence of an error: node's parseArgs messages go on about `--` after it. */
export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split(/\n|\.\s/)[0]!.trim();
}

/** Prints `name: message` on stderr and exits with `code`. */
export function exitWith(name: string, message: string, code: number): never {
  process.stderr.write(`${name}: ${message}\n`);
  process.exit(code);
}

/**
 * Errors that are not bugs, worth one line rather than a stack: the configuration (ConfigError, one line per
 * problem), a system error (ECONNREFUSED, ENOENT, EACCES…), a database that cannot be opened or reached
 * (SQLITE_CANTOPEN…, PostgreSQL's connection, authentication and missing-database classes, knex's pool timeout).
 */
export function isUserError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'ConfigError' || error.name === 'KnexTimeoutError') return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  return /^E[A-Z]+$/.test(code) || /^SQLITE_(CANTOPEN|NOTADB|READONLY|PERM|AUTH|CORRUPT)/.test(code) || /^(08|28|3D)[0-9A-Z]{3}$/.test(code);
}

/** A user error as one line: ConfigError's problems joined with `; `. */
export function userErrorLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const [first = '', ...rest] = message
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  return rest.length > 0 ? `${first} ${rest.join('; ')}` : first;
}

const TRY_HELP = ' (try --help)';
const withHint = (message: string) => (message.endsWith(TRY_HELP) ? message : `${message}${TRY_HELP}`);

/** Parses the command line as `spec` says, or exits: 0 after printing the usage for `--help`, 2 on a mistake. */
export async function parseCli<const O extends Options = Record<never, never>>(spec: CliSpec<O>): Promise<Cli<O>> {
  const args = spec.args ?? process.argv.slice(2);
  const options = { ...spec.options, ...HELP } as O & typeof HELP;
  const usageError = (message: string): never => exitWith(spec.name, withHint(message), 2);

  // --help wins over any mistake beside it (a lenient pass finds it; a value that looks like it is not it).
  const lenient = parseArgs({ args: [...args], options, strict: false, allowPositionals: true, tokens: true });
  if (lenient.tokens.some((token) => token.kind === 'option' && token.name === 'help')) {
    const usage = typeof spec.usage === 'function' ? await spec.usage() : spec.usage;
    process.stdout.write(usage.endsWith('\n') ? usage : `${usage}\n`);
    process.exit(0);
  }

  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true }) as Parsed<O>;
  } catch (error) {
    return usageError(firstLine(error));
  }

  const names = spec.positionals ?? [];
  const variadic = names.at(-1)?.endsWith('...') === true;
  for (const [index, raw] of names.entries()) {
    const name = raw.replace(/\?$|\.\.\.$|\?\.\.\.$/, '');
    if (!raw.includes('?') && parsed.positionals[index] === undefined) usageError(spec.missing?.[name] ?? `<${name}> is required`);
  }
  const extra = variadic ? undefined : parsed.positionals[names.length];
  if (extra !== undefined) usageError(`Unexpected argument '${extra}'`);

  return {
    values: parsed.values,
    positionals: parsed.positionals,
    usageError,
    fail: (message, code = 1) => exitWith(spec.name, message, code),
    integer(option, range = {}) {
      const value = (parsed.values as Record<string, unknown>)[option];
      if (value === undefined) return undefined;
      const { min = 0, max = Number.MAX_SAFE_INTEGER } = range;
      const number = typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : Number.NaN;
      if (!(number >= min && number <= max))
        usageError(
          `--${option} takes a whole number ${max === Number.MAX_SAFE_INTEGER ? `from ${min}` : `from ${min} to ${max}`}, not ${JSON.stringify(value)}`,
        );
      return number;
    },
    exitOnUserError(error, code = 1) {
      if (isUserError(error)) exitWith(spec.name, userErrorLine(error), code);
    },
  };
}
