# Install wgd under a PREFIX, honouring DESTDIR (BSD make and GNU make):
#   cargo build --release && make install [PREFIX=/usr/local] [DESTDIR=]
#   make uninstall [PREFIX=...] [DESTDIR=...]
# and, opt-in, the BSD commands (ifconfig, kldload, kldunload, kldstat;
# bsd-commands(8)) beside them:
#   make install-bsd [PREFIX=...]   make uninstall-bsd [PREFIX=...]
PREFIX?=	/usr/local
MANDIR?=	$(PREFIX)/share/man
SYSTEMDDIR?=	$(PREFIX)/lib/systemd/system
BUILD?=		target/release

ROOT=		$(DESTDIR)$(PREFIX)
FILES=		$(ROOT)/sbin/wgd $(ROOT)/sbin/ifconfig-wg \
		$(ROOT)/etc/rc.d/if_wg $(ROOT)/etc/rc.d/wg \
		$(ROOT)/share/wgd/rc.subr \
		$(ROOT)/share/examples/wgd/bird.conf $(ROOT)/share/examples/wgd/babeld.conf \
		$(ROOT)/share/examples/wgd/bird-link2.conf $(ROOT)/share/examples/wgd/babeld-link2.conf \
		$(DESTDIR)$(MANDIR)/man4/wg.4 $(DESTDIR)$(MANDIR)/man5/wg.conf.5 \
		$(DESTDIR)$(MANDIR)/man8/wgd.8 $(DESTDIR)$(MANDIR)/man8/ifconfig-wg.8 \
		$(DESTDIR)$(SYSTEMDDIR)/wgd.service $(DESTDIR)$(SYSTEMDDIR)/wg-rc.service

all:
	cargo build --release --workspace

install:
	@test -x $(BUILD)/wgd -a -x $(BUILD)/ifconfig-wg || \
		{ echo "make install: build first: cargo build --release (builds wgd and ifconfig-wg)" >&2; exit 1; }
	install -d $(ROOT)/sbin $(ROOT)/etc/rc.d $(ROOT)/share/wgd \
		$(ROOT)/share/examples/wgd $(DESTDIR)$(MANDIR)/man4 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSTEMDDIR)
	install -m 0755 $(BUILD)/wgd $(BUILD)/ifconfig-wg $(ROOT)/sbin/
	sed 's|/usr/local/|$(PREFIX)/|g' rc.d/if_wg > $(ROOT)/etc/rc.d/if_wg
	sed 's|/usr/local/|$(PREFIX)/|g' rc.d/wg > $(ROOT)/etc/rc.d/wg
	chmod 0755 $(ROOT)/etc/rc.d/if_wg $(ROOT)/etc/rc.d/wg
	install -m 0644 rc.d/compat/rc.subr $(ROOT)/share/wgd/rc.subr
	install -m 0644 examples/bird.conf examples/babeld.conf examples/bird-link2.conf \
		examples/babeld-link2.conf $(ROOT)/share/examples/wgd/
	install -m 0644 man/wg.4 $(DESTDIR)$(MANDIR)/man4/
	install -m 0644 man/wg.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/wgd.8 man/ifconfig-wg.8 $(DESTDIR)$(MANDIR)/man8/
	sed 's|@PREFIX@|$(PREFIX)|g' rc.d/systemd/wgd.service > $(DESTDIR)$(SYSTEMDDIR)/wgd.service
	sed 's|@PREFIX@|$(PREFIX)|g' rc.d/systemd/wg-rc.service > $(DESTDIR)$(SYSTEMDDIR)/wg-rc.service

BSD=		ifconfig kldload kldunload kldstat
BSDFILES=	$(ROOT)/sbin/ifconfig $(ROOT)/sbin/kldload $(ROOT)/sbin/kldunload \
		$(ROOT)/sbin/kldstat $(DESTDIR)$(MANDIR)/man8/bsd-commands.8

# Never over a distribution's ifconfig unless PREFIX is where it lives
# (PREFIX=/usr): the default puts them in /usr/local/sbin.
install-bsd: install
	@for c in $(BSD); do test -x $(BUILD)/$$c || \
		{ echo "make install-bsd: build first: cargo build --release (builds $$c)" >&2; exit 1; }; done
	install -m 0755 $(BUILD)/ifconfig $(BUILD)/kldload $(BUILD)/kldunload $(BUILD)/kldstat $(ROOT)/sbin/
	install -m 0644 man/bsd-commands.8 $(DESTDIR)$(MANDIR)/man8/

uninstall-bsd:
	rm -f $(BSDFILES)
	$(MAKE) uninstall PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) MANDIR=$(MANDIR) SYSTEMDDIR=$(SYSTEMDDIR)

# Directories install may have made, deepest first; rmdir removes only
# the ones left empty, so nobody else's files can go.
DIRS=		$(ROOT)/share/wgd $(ROOT)/share/examples/wgd $(ROOT)/share/examples \
		$(DESTDIR)$(MANDIR)/man4 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(MANDIR) $(ROOT)/share $(ROOT)/etc/rc.d $(ROOT)/etc $(ROOT)/sbin \
		$(DESTDIR)$(SYSTEMDDIR) $(ROOT)/lib/systemd $(ROOT)/lib $(ROOT)

uninstall:
	rm -f $(FILES)
	-for d in $(DIRS); do rmdir "$$d" 2>/dev/null; done; true

.PHONY: all install uninstall install-bsd uninstall-bsd
