# kvc: build, test, install. `make install` ships kvc with its own Node: hosts need none.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib/kvc
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR ?= $(PREFIX)/share/doc/kvc
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
SYSCONFDIR ?= /etc
DESTDIR ?=

# The project's own Node: the platform package node-linux-<arch> (its tarball holds the binary, so
# package-lock.json pins its integrity), used to build and shipped; its SHA-256 is checked against
# node.sha256 before every bundle and install.
NODE_ARCH = $(subst x86_64,x64,$(subst aarch64,arm64,$(shell uname -m)))
NODE_VERSION = $(shell sed -n 's/.*"node-linux-$(NODE_ARCH)": "\([0-9.]*\)".*/\1/p' package.json)
NODE_PKG = node-linux-$(NODE_ARCH)@$(NODE_VERSION)
NODE_BIN = node_modules/node-linux-$(NODE_ARCH)/bin/node
SOURCES = $(shell find src -name '*.ts') package.json tsconfig.json scripts/bundle.mjs
# The usbip instance's host commands (usbip, usbipd): the tools its .conf lists in KVC_HOST_TOOLS.
USBIP_TOOLS = $(shell sed -n 's/^KVC_HOST_TOOLS="\(.*\)"/\1/p' host/etc/kvc/usbip.conf)
# The manual pages and shell completions, written by scripts/gen-docs.mjs from the built program (the
# same command, key and devices-file definitions `kvc --help` prints).
GENERATED = dist/man/man8/kvc.8 dist/man/man5/kvc.conf.5 dist/man/man5/kvc-devices.5 dist/completion/kvc.bash dist/completion/_kvc

.PHONY: all build test test-unit install uninstall demo clean bench deb sysext

all: dist/kvc.mjs dist/.generated

node_modules/.package-lock.json: package.json package-lock.json
	scripts/npm-pinned.sh ci --no-audit --no-fund
	@touch $@

dist/kvc.mjs: node_modules/.package-lock.json $(SOURCES) node.sha256
	scripts/verify-node.sh $(NODE_BIN) $(NODE_PKG)
	scripts/npm-pinned.sh run --silent bundle

build: dist/kvc.mjs dist/.generated

# One run writes them all; the stamp stands for the five files.
dist/.generated: dist/kvc.mjs scripts/gen-docs.mjs $(wildcard scripts/docs/*.mjs)
	$(NODE_BIN) scripts/gen-docs.mjs dist
	@touch $@

$(GENERATED): dist/.generated

# The README's test command: unit, integration (real podman) and end-to-end (QEMU guest) tests.
test: node_modules/.package-lock.json
	test/setup/prepare.sh
	scripts/npm-pinned.sh test

test-unit: node_modules/.package-lock.json
	scripts/npm-pinned.sh run --silent test:unit

# The README's first command: builds everything and shows kvc in a guest kernel that lacks USB/IP.
demo: dist/kvc.mjs
	test/setup/prepare.sh
	test/e2e/demo.sh

bench: dist/kvc.mjs
	bench/run.sh

install: dist/kvc.mjs dist/.generated
	scripts/verify-node.sh $(NODE_BIN) $(NODE_PKG)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/guards $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(SYSCONFDIR)/kvc/usbip $(DESTDIR)$(DOCDIR)/docs $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	install -m 755 $(NODE_BIN) $(DESTDIR)$(LIBDIR)/node
	install -m 644 dist/kvc.mjs $(DESTDIR)$(LIBDIR)/kvc.mjs
	sed 's|@LIBDIR@|$(LIBDIR)|g' host/bin/kvc.in > $(DESTDIR)$(BINDIR)/kvc
	chmod 755 $(DESTDIR)$(BINDIR)/kvc
	install -m 755 host/lib/kvc-tool $(DESTDIR)$(LIBDIR)/kvc-tool
	install -m 644 host/lib/guards/usbip.sh $(DESTDIR)$(LIBDIR)/guards/usbip.sh
	# The same scripts `kvc host-commands usbip` writes (host/bin/host-command.in).
	# A file of that name that kvc did not write (Debian's own usbip, say) is left alone, as
	# `kvc host-commands` leaves it.
	for path in $(USBIP_TOOLS); do \
		tool=$${path##*/}; dest=$(DESTDIR)$(BINDIR)/$$tool; \
		if [ -e "$$dest" ] || [ -L "$$dest" ]; then \
			if ! grep -qF 'Written by `kvc host-commands' "$$dest" 2>/dev/null; then \
				echo "make install: $$dest exists and kvc did not write it; not replacing it (kvc host-commands usbip --bindir DIR writes it elsewhere)"; continue; \
			fi; \
			rm -f "$$dest"; \
		fi; \
		sed "s|@LIBDIR@|$(LIBDIR)|g; s|@INSTANCE@|usbip|g; s|@PATH@|$$path|g; s|@TOOL@|$$tool|g" host/bin/host-command.in > "$$dest"; \
		chmod 755 "$$dest"; \
	done
	sed 's|/usr/local/bin/kvc|$(BINDIR)/kvc|g; s|/usr/local/share/doc/kvc|$(DOCDIR)|g; s|^Documentation=|Documentation=man:kvc(8) |' systemd/kvc@.service > $(DESTDIR)$(UNITDIR)/kvc@.service
	chmod 644 $(DESTDIR)$(UNITDIR)/kvc@.service
	install -m 644 README.md CONTRIBUTING.md $(DESTDIR)$(DOCDIR)/
	install -m 644 docs/*.md $(DESTDIR)$(DOCDIR)/docs/
	sed 's|/usr/local/share/doc/kvc|$(DOCDIR)|g' dist/man/man8/kvc.8 > $(DESTDIR)$(MANDIR)/man8/kvc.8
	chmod 644 $(DESTDIR)$(MANDIR)/man8/kvc.8
	install -m 644 dist/man/man5/kvc.conf.5 dist/man/man5/kvc-devices.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 644 dist/completion/kvc.bash $(DESTDIR)$(BASHCOMPDIR)/kvc
	install -m 644 dist/completion/_kvc $(DESTDIR)$(ZSHCOMPDIR)/_kvc
	# pre-unload, sign-modules and extract-source keep their x bit: the Containerfile COPYs them with it into the image.
	install -m 644 host/etc/kvc/usbip/Containerfile.* $(DESTDIR)$(SYSCONFDIR)/kvc/usbip/
	install -m 755 host/etc/kvc/usbip/pre-unload host/etc/kvc/usbip/sign-modules host/etc/kvc/usbip/extract-source host/etc/kvc/usbip/kernel-crcs $(DESTDIR)$(SYSCONFDIR)/kvc/usbip/
	# Configuration files are installed only where none exists: an edited one is never overwritten.
	for f in kvc.conf usbip.conf; do \
		[ -e $(DESTDIR)$(SYSCONFDIR)/kvc/$$f ] || install -m 644 host/etc/kvc/$$f $(DESTDIR)$(SYSCONFDIR)/kvc/$$f; \
	done

# The Debian package kvc_<version>_<arch>.deb in dist/: the tree of `make install` for /usr and
# /etc, packed by packaging/deb/build.sh with dpkg-deb (see docs/packages.md).
KVC_VERSION = $(shell sed -n 's/^  "version": "\(.*\)",/\1/p' package.json)
deb: dist/kvc.mjs dist/.generated
	rm -rf dist/deb-tree
	$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/dist/deb-tree PREFIX=/usr SYSCONFDIR=/etc
	packaging/deb/build.sh dist/deb-tree dist $(KVC_VERSION)
	rm -rf dist/deb-tree

# kvc's systemd-sysext image in dist/ (kvc-sysext/, and kvc_<version>_<arch>.raw where mksquashfs
# is installed), from the same tree: packaging/sysext/build.sh (see docs/packages.md).
sysext: dist/kvc.mjs dist/.generated
	rm -rf dist/sysext-tree
	$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/dist/sysext-tree PREFIX=/usr SYSCONFDIR=/etc
	packaging/sysext/build.sh dist/sysext-tree dist $(KVC_VERSION)
	rm -rf dist/sysext-tree

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/kvc $(DESTDIR)$(UNITDIR)/kvc@.service $(DESTDIR)$(DOCDIR)/README.md $(DESTDIR)$(DOCDIR)/CONTRIBUTING.md
	rm -rf $(DESTDIR)$(DOCDIR)/docs
	rm -f $(DESTDIR)$(MANDIR)/man8/kvc.8 $(DESTDIR)$(MANDIR)/man5/kvc.conf.5 $(DESTDIR)$(MANDIR)/man5/kvc-devices.5 \
		$(DESTDIR)$(BASHCOMPDIR)/kvc $(DESTDIR)$(ZSHCOMPDIR)/_kvc
	for path in $(USBIP_TOOLS); do \
		dest=$(DESTDIR)$(BINDIR)/$${path##*/}; \
		! grep -qF 'Written by `kvc host-commands' "$$dest" 2>/dev/null || rm -f "$$dest"; \
	done
	rm -rf $(DESTDIR)$(LIBDIR)
	rm -f $(DESTDIR)$(SYSCONFDIR)/kvc/usbip/Containerfile.* $(DESTDIR)$(SYSCONFDIR)/kvc/usbip/pre-unload $(DESTDIR)$(SYSCONFDIR)/kvc/usbip/sign-modules $(DESTDIR)$(SYSCONFDIR)/kvc/usbip/extract-source $(DESTDIR)$(SYSCONFDIR)/kvc/usbip/kernel-crcs
	-rmdir $(DESTDIR)$(SYSCONFDIR)/kvc/usbip $(DESTDIR)$(DOCDIR)
	@echo "kept $(DESTDIR)$(SYSCONFDIR)/kvc/*.conf (your configuration); remove it by hand if you want"

clean:
	rm -rf lib dist
