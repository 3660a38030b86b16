// winston set up for where kvc runs: journald priorities under systemd, colour on a TTY, plain otherwise.
import winston from 'winston';
import { escapeControls } from './sanitize.js';
import { environment } from '../environment.js';

// kvc's logger (winston's), as createLogger makes it.
export type Logger = winston.Logger;

// How log lines are written.
export type LogStyle = 'journal' | 'tty' | 'plain';

// journald reads a "<N>" prefix as the syslog priority of the line (SyslogLevelPrefix=yes).
const PRIORITY: Record<string, number> = { error: 3, warn: 4, info: 6, verbose: 7, debug: 7 };
const LEVELS = ['error', 'warn', 'info', 'verbose', 'debug'];

// Picks the style from the environment: systemd sets JOURNAL_STREAM when stderr is the journal;
// colour only on a terminal, and not when NO_COLOR is set (no-color.org) or TERM is dumb.
export function detectLogStyle(env: NodeJS.ProcessEnv = environment(), isTty = process.stderr.isTTY === true): LogStyle {
  if (isTty) return (env['NO_COLOR'] ?? '') !== '' || env['TERM'] === 'dumb' ? 'plain' : 'tty';
  if (env['JOURNAL_STREAM'] !== undefined && env['JOURNAL_STREAM'] !== '') return 'journal';
  return 'plain';
}

// Formats one message in a style. Pure, for tests. Control characters from whatever the message
// quotes are escaped; in the journal every line of it carries the priority, so that a line break
// inside a quoted string cannot start a line of another priority.
export function formatLine(style: LogStyle, level: string, raw: string): string {
  const message = escapeControls(raw);
  if (style === 'journal') return message.split('\n').map((line) => `<${PRIORITY[level] ?? 6}>${line}`).join('\n');
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
export function createLogger(options: { verbose?: boolean; style?: LogStyle; stream?: NodeJS.WritableStream } = {}): Logger {
  const style = options.style ?? detectLogStyle();
  const line = winston.format.printf((info) => formatLine(style, String(info.level), String(info.message)));
  const transport = options.stream === undefined
    ? new winston.transports.Console({ stderrLevels: LEVELS })
    : new winston.transports.Stream({ stream: options.stream });
  return winston.createLogger({
    level: options.verbose === true ? 'debug' : 'info',
    format: line,
    transports: [transport],
  });
}
