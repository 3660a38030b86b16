// winston set up for where kvc runs: journald priorities under systemd, colour on a TTY (unless
// NO_COLOR or TERM=dumb), plain otherwise.
import winston from 'winston';

export type Logger = winston.Logger;

// How log lines are written.
export type LogStyle = 'journal' | 'tty' | 'plain';

// journald reads a "<N>" prefix as the syslog priority of the line (SyslogLevelPrefix=yes).
const PRIORITY: Record<string, number> = { error: 3, warn: 4, info: 6, verbose: 7, debug: 7 };
const LEVELS = ['error', 'warn', 'info', 'verbose', 'debug'];

// Picks the style from the environment: systemd sets JOURNAL_STREAM when stderr is the journal.
export function detectLogStyle(env: NodeJS.ProcessEnv = process.env, isTty = process.stderr.isTTY === true): LogStyle {
  if (isTty) return 'tty';
  if (env['JOURNAL_STREAM'] !== undefined && env['JOURNAL_STREAM'] !== '') return 'journal';
  return 'plain';
}

// Whether lines for a person may be coloured: only on a TTY, and not when NO_COLOR is set
// (https://no-color.org: present and not empty) or the terminal is dumb.
export function colourWanted(env: NodeJS.ProcessEnv = process.env, isTty = process.stderr.isTTY === true): boolean {
  return isTty && (env['NO_COLOR'] ?? '') === '' && env['TERM'] !== 'dumb';
}

// Formats one line in a style; `colour` applies to the tty style only. Pure, for tests.
export function formatLine(style: LogStyle, level: string, message: string, colour = style === 'tty'): string {
  if (style === 'journal') return `<${PRIORITY[level] ?? 6}>${message}`;
  if (style === 'tty' && !colour) {
    if (level === 'error') return `error: ${message}`;
    if (level === 'warn') return `warning: ${message}`;
    return message;
  }
  if (style === 'tty') {
    if (level === 'error') return `\x1b[1;31merror:\x1b[0m ${message}`;
    if (level === 'warn') return `\x1b[33mwarning:\x1b[0m ${message}`;
    if (level === 'verbose' || level === 'debug') return `\x1b[2m${message}\x1b[0m`;
    return message;
  }
  if (level === 'error') return `kvc: error: ${message}`;
  if (level === 'warn') return `kvc: warning: ${message}`;
  return `kvc: ${message}`;
}

// A logger writing every level to stderr (stdout is for results), `verbose` showing container commands.
export function createLogger(options: { verbose?: boolean; style?: LogStyle; colour?: boolean; stream?: NodeJS.WritableStream } = {}): Logger {
  const style = options.style ?? detectLogStyle();
  const colour = options.colour ?? (style === 'tty' && colourWanted());
  const line = winston.format.printf((info) => formatLine(style, String(info.level), String(info.message), colour));
  const transport = options.stream === undefined
    ? new winston.transports.Console({ stderrLevels: LEVELS })
    : new winston.transports.Stream({ stream: options.stream });
  return winston.createLogger({
    level: options.verbose === true ? 'debug' : 'info',
    format: line,
    transports: [transport],
  });
}
