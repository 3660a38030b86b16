// Strings from outside kvc (a USB device's product and serial, a remote server's answers, podman's
// output) reach the journal and the terminal: their control characters are shown escaped, so that
// they can neither forge a journal line nor drive the terminal.

// C0 controls but tab and newline, DEL, and C1 controls (U+0080–U+009F, e.g. CSI U+009B).
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
// The same with newline and tab, for one-line fields.
const CONTROLS_AND_BREAKS = /[\u0000-\u001f\u007f-\u009f]/g;

function escape(char: string): string {
  if (char === '\n') return '\\n';
  if (char === '\t') return '\\t';
  if (char === '\r') return '\\r';
  return `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

// The text with every control character but newline and tab written as \xNN (ESC as \x1b).
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, escape);
}

// One line: every control character written out, newlines as \n.
export function oneLine(text: string): string {
  return text.replace(CONTROLS_AND_BREAKS, escape);
}
