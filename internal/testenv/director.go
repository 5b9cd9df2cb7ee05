package testenv

import "fmt"

// DirectorConf is the ldirectord.cf the director agent's VM tests and the
// package tests drive: two NAT reals of 10.77.0.100:80 on a dummy link,
// always up (checktype=on), logging to logfile.
func DirectorConf(logfile string) string {
	return fmt.Sprintf(`checkinterval=1
checktimeout=1
autoreload=no
quiescent=no
logfile="%s"

virtual=10.77.0.100:80
	real=10.77.0.11:80 masq 1
	real=10.77.0.12:80 masq 2
	checktype=on
	scheduler=wrr
	protocol=tcp
`, logfile)
}
