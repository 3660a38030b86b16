// Small helpers to write man(7) roff: escaping, and the few macros kvc's pages use.

// Text as roff reads it literally: backslashes escaped, a leading dot or quote made harmless.
export function escape(text) {
  return String(text).replace(/\\/g, '\\e').replace(/^([.'])/gm, '\\&$1');
}

// Prose from a help text: `code` in bold, the rest escaped; one output line per sentence, as
// roff sources are written (a sentence ends a line so that groff spaces sentences right).
export function prose(text) {
  const inline = String(text).split(/(`[^`]*`)/).map((part) => (part.startsWith('`') && part.endsWith('`') && part.length > 1 ? `\\fB${literal(part.slice(1, -1))}\\fR` : escape(part))).join('');
  return inline.replace(/([.;:]) +(?=[A-Z`\\])/g, '$1\n').replace(/^([.'])/gm, '\\&$1');
}

// A word kvc's user types (a command, an option, a path): escaped, its hyphens real minus signs.
export function literal(text) {
  return escape(text).replace(/-/g, '\\-');
}

// Bold literal.
export function bold(text) {
  return `\\fB${literal(text)}\\fR`;
}

// Italic placeholder.
export function italic(text) {
  return `\\fI${literal(text)}\\fR`;
}

// A usage line: words in <> and [] as placeholders (italic), the rest bold.
export function usage(text) {
  return text.split(' ').map((word) => {
    const found = /^([[<]?)([^\]>]*?)(\.\.\.)?([\]>]?)$/.exec(word);
    if (found === null || (found[1] === '' && found[4] === '')) return bold(word);
    return `${found[1] === '[' ? '[' : ''}${italic(found[2] + (found[3] ?? ''))}${found[4] === ']' ? ']' : ''}`;
  }).join(' ');
}

// The page header.
export function header(name, section, version, manual) {
  return `.TH ${name.toUpperCase()} ${section} "" "kvc ${version}" "${manual}"\n`;
}

// A verbatim block (examples, file contents).
export function verbatim(lines) {
  return `.PP\n.RS 4\n.nf\n${lines.map((line) => escape(line)).join('\n')}\n.fi\n.RE\n`;
}
