// Command bench/status measures what operating lvsd costs at 10,000
// reals: `status` over the control socket (what lvsd status --json asks)
// and a Prometheus scrape of /metrics, time and size, and the check
// loop's throughput with and without a scrape and a status every second.
// lvsd runs as `lvsd run --dry-run` (the same engine over an in-memory
// table: no IPVS needed) with connect checks to a local listener (every
// 127.x.y.z address reaches it), so the checks are real sockets.
//
//	go run ./bench/status [-lvsd bin/lvsd] [-reals 10000] [-phase 20s]
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	lvsd := flag.String("lvsd", "bin/lvsd", "lvsd binary")
	reals := flag.Int("reals", 10000, "real servers (in virtuals of 1,000)")
	phase := flag.Duration("phase", 20*time.Second, "length of each throughput phase")
	interval := flag.Int("checkinterval", 5, "checkinterval of the generated file (seconds)")
	flag.Parse()
	dir, err := os.MkdirTemp("", "bench-status-")
	must(err)
	defer os.RemoveAll(dir)

	ln, err := net.Listen("tcp", ":0") // all addresses: 127.x.y.z land here
	must(err)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	var cf bytes.Buffer
	fmt.Fprintf(&cf, "checkinterval=%d\nchecktimeout=3\nquiescent=no\n", *interval)
	for i := 0; i < *reals; i++ {
		if i%1000 == 0 {
			fmt.Fprintf(&cf, "virtual=192.0.2.%d:80\n\tchecktype=connect\n\tscheduler=wrr\n", i/1000+1)
		}
		fmt.Fprintf(&cf, "\treal=127.%d.%d.%d:%d masq 1\n", 1+i/65536, (i/256)%256, i%256+0, port)
	}
	path := filepath.Join(dir, "status.cf")
	must(os.WriteFile(path, cf.Bytes(), 0o644))
	maddr := freePort()
	sock := filepath.Join(dir, "s.sock")
	cmd := exec.Command(*lvsd, "run", "--dry-run", "--quiet", "--metrics", maddr, "--socket", sock,
		"--for", (2**phase + 5*time.Minute).String(), path)
	cmd.Stdout = io.Discard
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(cmd.Start())
	defer cmd.Process.Kill()

	t0 := time.Now()
	upRe := regexp.MustCompile(`(?m)^lvsd_reals\{state="up"\} (\d+)$`)
	for {
		body, _, err := get(maddr)
		if err == nil {
			if m := upRe.FindStringSubmatch(body); m != nil && m[1] == strconv.Itoa(*reals) {
				break
			}
		}
		if time.Since(t0) > 4*time.Minute {
			fail(fmt.Errorf("reals never all up: %v\n%s", err, stderr.String()))
		}
		time.Sleep(500 * time.Millisecond)
	}
	fmt.Printf("lvsd run --dry-run: %d reals in %d virtuals, connect checks every %ds; all up after %s\n",
		*reals, (*reals+999)/1000, *interval, time.Since(t0).Round(100*time.Millisecond))

	// status and scrape: 7 each, the median and the worst
	var st, sc []time.Duration
	var stSize, scSize int
	for i := 0; i < 7; i++ {
		t := time.Now()
		ans, err := ask(sock, "status")
		must(err)
		st, stSize = append(st, time.Since(t)), len(ans)
		_, d, err := get(maddr)
		must(err)
		sc = append(sc, d)
		b, _, _ := get(maddr)
		scSize = len(b)
	}
	fmt.Printf("%-36s %10s %10s %10s\n", "", "median", "worst", "size")
	fmt.Printf("%-36s %10s %10s %9dK\n", "status (control socket, JSON)", ms(median(st)), ms(worst(st)), stSize/1024)
	fmt.Printf("%-36s %10s %10s %9dK   target < 100 ms: %s\n", "metrics scrape (/metrics)", ms(median(sc)), ms(worst(sc)), scSize/1024,
		map[bool]string{true: "met", false: "MISSED"}[median(sc) < 100*time.Millisecond])

	// throughput: checks/s from lvsd_checks_total over a quiet phase, then
	// over a phase with a scrape and a status every second
	checks := func() float64 {
		body, _, err := get(maddr)
		must(err)
		total := 0.0
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, "lvsd_checks_total{") {
				f := strings.Fields(l)
				v, _ := strconv.ParseFloat(f[len(f)-1], 64)
				total += v
			}
		}
		return total
	}
	rate := func(scraped bool) float64 {
		c0, t0 := checks(), time.Now()
		end := t0.Add(*phase)
		for time.Now().Before(end) {
			if scraped {
				get(maddr)
				ask(sock, "status")
			}
			time.Sleep(time.Until(minTime(end, time.Now().Add(time.Second))))
		}
		return (checks() - c0) / time.Since(t0).Seconds()
	}
	quiet := rate(false)
	busy := rate(true)
	want := float64(*reals) / float64(*interval)
	loss := 100 * (quiet - busy) / quiet
	fmt.Printf("checks/s: %.0f quiet, %.0f scraped and asked every second (%.1f%% change; configured rate %.0f/s)\n", quiet, busy, -loss, want)
	verdict := "no measurable loss"
	if loss > 5 {
		verdict = fmt.Sprintf("MISSED: %.1f%% fewer checks", loss)
	}
	fmt.Println("target (no measurable loss while scraped every second):", verdict)
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func worst(d []time.Duration) time.Duration {
	m := d[0]
	for _, x := range d {
		m = max(m, x)
	}
	return m
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func get(addr string) (string, time.Duration, error) {
	t := time.Now()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), time.Since(t), err
}

func ask(sock, req string) (string, error) {
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	fmt.Fprintln(c, req)
	b, err := io.ReadAll(bufio.NewReader(c))
	return string(b), err
}

func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer l.Close()
	return l.Addr().String()
}

func must(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/status:", err)
	os.Exit(1)
}
