// Package vmtest holds the VM tier's package tests (pkg_vm_test.go,
// built with -tags vm): the RPM and the .deb installed, upgraded and
// removed for real inside the test VM, where their scriptlets and
// maintainer scripts run against a real (throw-away) root. The packages
// come from `make vm-packages`, which `make vmtest` runs first.
package vmtest
