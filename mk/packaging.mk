# RPM packaging (packaging/ocf-lvs.spec) and its test tier.
.PHONY: rpm rpmtest
RPM_VERSION ?= 0.1.0
rpm: build
	@mkdir -p .cache/rpm
	rpmbuild -bb --define "_topdir $(abspath .cache/rpm)" --define "srcdir $(CURDIR)" \
	  --define "version $(RPM_VERSION)" packaging/ocf-lvs.spec
	@ls .cache/rpm/RPMS/*/*.rpm

# The RPM holds every agent where Pacemaker looks and lvsd; the packaged
# VIP answers meta-data.
rpmtest: rpm
	sh packaging/test-rpm.sh .cache/rpm/RPMS/x86_64/ocf-lvs-$(RPM_VERSION)-1.x86_64.rpm
TEST_TIERS += rpmtest
