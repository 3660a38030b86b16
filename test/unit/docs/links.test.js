// Unit tests: every relative link of README.md, CONTRIBUTING.md and docs/*.md leads somewhere: the
// file exists, and an anchor (#section) names a heading of that page as GitHub makes its ids. Pages
// other branches write (PENDING) may be missing until they are merged, and only those.
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const PENDING = ['docs/kernels-without-headers.md', 'docs/usbip-access.md', 'docs/packages.md'];

// The pages whose links are checked.
export function markdownPages() {
  const docs = readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`);
  return ['README.md', 'CONTRIBUTING.md', ...docs].filter((page) => existsSync(join(ROOT, page)));
}

// Text outside fenced code blocks and inline code, where a link is a link.
function prose(text) {
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

// [text](target) links, images included; absolute URLs left out.
export function linksOf(text) {
  return [...prose(text).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((found) => found[1]).filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

// The ids GitHub gives a page's headings: lower case, punctuation dropped, spaces to hyphens,
// a repeated heading numbered (-1, -2…).
export function anchorsOf(text) {
  const seen = new Map();
  const ids = new Set();
  for (const [, title] of prose(text.replace(/`([^`\n]*)`/g, '$1')).matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const base = title.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').toLowerCase().replace(/[^\p{L}\p{N}\- _]/gu, '').replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    ids.add(count === 0 ? base : `${base}-${count}`);
  }
  return ids;
}

// What is wrong with one link of `page`, or undefined.
export function brokenLink(page, target, root = ROOT) {
  const [path, anchor] = target.split('#', 2);
  const file = path === '' ? join(root, page) : resolve(dirname(join(root, page)), decodeURIComponent(path));
  const name = relative(root, file);
  if (!existsSync(file)) return PENDING.includes(name) ? undefined : `${target}: ${name} does not exist`;
  if (anchor === undefined || anchor === '' || statSync(file).isDirectory()) return undefined;
  if (!file.endsWith('.md')) return `${target}: an anchor into ${name}, which is not a markdown page`;
  return anchorsOf(readFileSync(file, 'utf8')).has(anchor) ? undefined : `${target}: ${name} has no heading #${anchor}`;
}

describe('documentation links', () => {
  it('finds links and heading ids as GitHub does', () => {
    expect(linksOf('[a](b.md) `[c](d.md)` [e](https://x/y) ![f](g.png)\n```\n[h](i.md)\n```\n')).to.deep.equal(['b.md', 'g.png']);
    expect([...anchorsOf('# A `kvc@<name>` page\n## Image tags\n## Image tags\n## USB/IP: Devices\n')]).to.deep.equal(['a-kvcname-page', 'image-tags', 'image-tags-1', 'usbip-devices']);
  });

  it('a missing file or heading is caught, a pending page only while absent', () => {
    expect(brokenLink('README.md', 'docs/no-such-page.md')).to.match(/docs\/no-such-page\.md does not exist/);
    expect(brokenLink('README.md', 'docs/configuration.md#no-such-heading')).to.match(/has no heading #no-such-heading/);
    expect(brokenLink('docs/install.md', 'packages.md')).to.equal(undefined);
    expect(brokenLink('docs/install.md', 'configuration.md#keys')).to.equal(undefined);
  });

  it('the README links the pages of docs/ by their names', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const linked = new Set(linksOf(readme).map((target) => target.split('#')[0]));
    for (const page of ['install', 'configuration', 'service', 'usbip', 'kubernetes', 'secure-boot', 'troubleshooting', 'exit-codes', 'architecture', 'security', 'benchmarks', 'kernels-without-headers', 'usbip-access', 'packages']) {
      expect(linked, page).to.include(`docs/${page}.md`);
    }
  });

  for (const page of markdownPages()) {
    it(`every relative link of ${page} resolves`, () => {
      const broken = linksOf(readFileSync(join(ROOT, page), 'utf8')).map((target) => brokenLink(page, target)).filter((problem) => problem !== undefined);
      expect(broken).to.deep.equal([]);
    });
  }
});
