# Packaging: man pages, the installed tree (make install), the RPM
# (packaging/ocf-lvs.spec) and the .deb of the same tree, and their test
# tier (packaging/test-packages.sh). README: Install.
.PHONY: man install-data install-ldirectord rpm deb pkgtest rpmtest

SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/ocf-lvs
DATADIR    ?= $(PREFIX)/share/ocf-lvs
# The pages' date: the last commit's, so that a rebuild gives the same page.
MAN_DATE   ?= $(shell git log -1 --format=%cs 2>/dev/null || date -u +%F)
MAN_CACHE  := .cache/man

# One page per agent of $(AGENTS) from its meta-data, lvsd(8) from
# packaging/man/lvsd.8.in and lvsd's --help (packaging/mangen).
man: build
	@mkdir -p $(MAN_CACHE)
	$(GO) build -o $(MAN_CACHE)/mangen ./packaging/mangen
	for a in $(AGENTS); do \
	  $(MAN_CACHE)/mangen agent -version $(RPM_VERSION) -date $(MAN_DATE) bin/$$a > $(MAN_CACHE)/ocf_lvs_$$a.7 || exit 1; done
	$(MAN_CACHE)/mangen lvsd -version $(RPM_VERSION) -date $(MAN_DATE) bin/lvsd packaging/man/lvsd.8.in > $(MAN_CACHE)/lvsd.8

# The sample /etc/lvsd/lvs.toml (vm-packages gives one version another).
SAMPLE_TOML ?= packaging/etc/lvs.toml
# Everything but the binaries (the Makefile's install puts those). Man
# pages gzip -9n (Debian policy; rpmbuild's brp-compress keeps them).
install-data: man
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(PREFIX)/lib/tmpfiles.d $(DESTDIR)$(SYSCONFDIR)/lvsd \
	  $(DESTDIR)$(SYSCONFDIR)/logrotate.d $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(DOCDIR)/docs $(DESTDIR)$(DATADIR)/prometheus $(DESTDIR)/var/log/lvsd
	install -m 0644 packaging/systemd/lvsd.service packaging/systemd/lvsd@.service $(DESTDIR)$(UNITDIR)/
	install -m 0644 packaging/etc/lvsd.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/lvsd.conf
	install -m 0644 $(SAMPLE_TOML) $(DESTDIR)$(SYSCONFDIR)/lvsd/lvs.toml
	install -m 0644 packaging/etc/lvsd.logrotate $(DESTDIR)$(SYSCONFDIR)/logrotate.d/ocf-lvs
	install -m 0644 packaging/prometheus/lvsd-alerts.yml $(DESTDIR)$(DATADIR)/prometheus/
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/
	install -m 0644 docs/*.md $(DESTDIR)$(DOCDIR)/docs/
	for p in $(MAN_CACHE)/*.7; do gzip -9n < $$p > $(DESTDIR)$(MANDIR)/man7/$$(basename $$p).gz; done
	gzip -9n < $(MAN_CACHE)/lvsd.8 > $(DESTDIR)$(MANDIR)/man8/lvsd.8.gz

# The ldirectord compatibility link (lvsd behaves as ldirectord under that
# name) and its page: the ocf-lvs-ldirectord package, not `make install`,
# so that an install next to Debian's ldirectord does not replace it.
install-ldirectord:
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)/logrotate.d
	ln -sf lvsd $(DESTDIR)$(PREFIX)/sbin/ldirectord
	ln -sf lvsd.8.gz $(DESTDIR)$(MANDIR)/man8/ldirectord.8.gz
	install -m 0644 packaging/etc/ldirectord.logrotate $(DESTDIR)$(SYSCONFDIR)/logrotate.d/ldirectord

PKG_CACHE := .cache/pkg
# Who built the package: set by the build, not the spec (rpmlint).
RPM_PACKAGER ?= ocf-lvs developers <ocf-lvs@users.noreply.github.com>
# Where the packages go (the VM tier builds two versions side by side).
RPM_TOPDIR ?= .cache/rpm
DEB_DIR    ?= $(PKG_CACHE)/deb
rpm: build
	@mkdir -p $(RPM_TOPDIR)
	rpmbuild -bb --define "_topdir $(abspath $(RPM_TOPDIR))" --define "srcdir $(CURDIR)" \
	  --define "version $(RPM_VERSION)" --define "commit $(COMMIT)" \
	  --define "packager $(RPM_PACKAGER)" packaging/ocf-lvs.spec
	@ls $(RPM_TOPDIR)/RPMS/*/*.rpm

# dpkg-deb from the tree `make install` stages (packaging/build-deb.sh).
deb: build
	sh packaging/build-deb.sh $(RPM_VERSION) $(DEB_DIR)

# The packages installed into scratch roots and checked: file modes, the
# agents under ocf-tester, man pages, systemd units, rpmlint and lintian.
pkgtest: rpm deb
	GO='$(GO)' DAEMONS='$(DAEMONS)' sh packaging/test-packages.sh $(RPM_VERSION) $(RPM_TOPDIR)/RPMS/x86_64 $(DEB_DIR) $(AGENTS)
TEST_TIERS += pkgtest
rpmtest: pkgtest

# What the VM tier installs for real (packaging/vmtest: scriptlets and
# maintainer scripts run, upgrade, erase/purge): the packages at two
# versions, each in its own directory, the newer with a changed sample
# lvs.toml (as a release that changes it: rpm's .rpmnew, dpkg's
# conffile question). bin/ is rebuilt at RPM_VERSION afterwards.
PKG_UPGRADE_FROM ?= 0.1.0
PKG_UPGRADE_TO   ?= 0.1.1
VM_PKG_DIR       := .cache/vm/pkg
.PHONY: vm-packages
vm-packages:
	@rm -rf $(VM_PKG_DIR) && mkdir -p $(VM_PKG_DIR)
	{ cat packaging/etc/lvs.toml; echo "# (the sample as changed in $(PKG_UPGRADE_TO))"; } > $(VM_PKG_DIR)/lvs-$(PKG_UPGRADE_TO).toml
	$(MAKE) -s rpm deb RPM_VERSION=$(PKG_UPGRADE_FROM) RPM_TOPDIR=$(VM_PKG_DIR)/$(PKG_UPGRADE_FROM)/rpm \
	  DEB_DIR=$(VM_PKG_DIR)/$(PKG_UPGRADE_FROM)/deb >$(VM_PKG_DIR)/build.log 2>&1 || { cat $(VM_PKG_DIR)/build.log; exit 1; }
	SAMPLE_TOML=$(abspath $(VM_PKG_DIR))/lvs-$(PKG_UPGRADE_TO).toml $(MAKE) -s rpm deb RPM_VERSION=$(PKG_UPGRADE_TO) \
	  RPM_TOPDIR=$(VM_PKG_DIR)/$(PKG_UPGRADE_TO)/rpm DEB_DIR=$(VM_PKG_DIR)/$(PKG_UPGRADE_TO)/deb >>$(VM_PKG_DIR)/build.log 2>&1 || \
	  { cat $(VM_PKG_DIR)/build.log; exit 1; }
	$(MAKE) -s build
	@echo "$(PKG_UPGRADE_FROM) $(PKG_UPGRADE_TO)" > $(VM_PKG_DIR)/versions
	@ls $(VM_PKG_DIR)/*/rpm/RPMS/*/*.rpm $(VM_PKG_DIR)/*/deb/*.deb
vmtest: vm-packages
FUZZ += ./packaging/mangen:FuzzAgent ./packaging/mangen:FuzzHelp
