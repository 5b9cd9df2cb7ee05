// Command ping benchmarks ocf:lvs:ping monitor against ocf:pacemaker:ping
// monitor, side by side with hyperfine, on the same one-node cluster (real
// attrd) started in private namespaces: 3 hosts, one of them dead,
// attempts=1, timeout=1s. Prints both means and the ratio.
//
//	go run ./bench/ping [-runs N] [-agent bin/ping]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/pcmk"
)

func main() {
	runs := flag.Int("runs", 10, "hyperfine runs per command")
	bin := flag.String("agent", "", "our ping agent binary (default: build cmd/ping)")
	dead := flag.Int("dead", 1, "dead hosts among the hosts (plus 2 live ones)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run ./bench/ping [-runs N] [-agent PATH]\n\nocf:lvs:ping monitor vs ocf:pacemaker:ping monitor (3 hosts, one dead, attempts=1, timeout=1s), on a private one-node cluster.")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(*runs, *bin, *dead); err != nil {
		fmt.Fprintln(os.Stderr, "bench/ping:", err)
		os.Exit(1)
	}
}

func run(runs int, bin string, dead int) error {
	tmp, err := os.MkdirTemp("", "ping-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	os.Chmod(tmp, 0o755)
	if bin == "" {
		bin = filepath.Join(tmp, "ping")
		if out, err := exec.Command("go", "build", "-o", bin, "github.com/ocf-lvs/ocf-lvs/cmd/ping").CombinedOutput(); err != nil {
			return fmt.Errorf("build: %v %s", err, out)
		}
	}
	bin, _ = filepath.Abs(bin)
	t0 := time.Now()
	c, err := pcmk.Start(90 * time.Second)
	if err != nil {
		return err
	}
	defer c.Stop()
	fmt.Printf("one-node cluster online in %v\n", time.Since(t0).Round(time.Millisecond))
	// in the cluster's namespace: 127.0.0.1 and 10.77.3.1 answer, 10.77.3.9 is silent
	for _, a := range [][]string{
		{"ip", "link", "add", "bench0", "type", "veth", "peer", "name", "bench1"},
		{"ip", "addr", "add", "10.77.3.1/24", "dev", "bench0"},
		{"ip", "link", "set", "bench0", "up"},
		{"ip", "link", "set", "bench1", "up"},
		// a permanent neighbour entry: echo requests leave on the wire and are
		// never answered (a dead host, not a fast "host unreachable")
	} {
		if out, err := c.Command(a[0], a[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %v %s", a, err, out)
		}
	}
	hosts := "127.0.0.1 10.77.3.1"
	for i := 0; i < dead; i++ {
		// dead host: a permanent neighbour entry, so echo requests leave on the
		// wire and are never answered (not a fast "host unreachable")
		a := fmt.Sprintf("10.77.3.%d", 100+i)
		hosts += " " + a
		if out, err := c.Command("ip", "neigh", "add", a, "lladdr", fmt.Sprintf("02:00:00:00:00:%02x", i), "dev", "bench0", "nud", "permanent").CombinedOutput(); err != nil {
			return fmt.Errorf("neigh: %v %s", err, out)
		}
	}
	fmt.Printf("hosts: %s (%d dead), attempts=1, timeout=1s\n", hosts, dead)
	common := "OCF_ROOT=/usr/lib/ocf HA_RSCTMP=" + tmp + " HA_VARRUN=" + tmp + " OCF_RESKEY_CRM_meta_interval=10000 OCF_RESKEY_CRM_meta_timeout=20000" +
		" OCF_RESKEY_host_list='" + hosts + "' OCF_RESKEY_attempts=1 OCF_RESKEY_timeout=1 OCF_RESKEY_dampen=5s"
	pid := strconv.Itoa(c.PID())
	ns := "nsenter -t " + pid + " -m -n -u env "
	ours := ns + common + " OCF_RESOURCE_INSTANCE=lvsping OCF_RESKEY_name=lvsping " + bin + " monitor"
	theirs := ns + common + " OCF_RESOURCE_INSTANCE=pcmkping OCF_RESKEY_name=pcmkping /usr/lib/ocf/resource.d/pacemaker/ping monitor"
	theirsPing := strings.Replace(theirs, "OCF_RESKEY_name=pcmkping", "OCF_RESKEY_name=pcmkping2 OCF_RESKEY_use_fping=false", 1)
	theirsPing = strings.Replace(theirsPing, "OCF_RESOURCE_INSTANCE=pcmkping", "OCF_RESOURCE_INSTANCE=pcmkping2", 1)
	for _, cmd := range []string{ours, theirs, theirsPing} {
		start := strings.TrimSuffix(cmd, " monitor") + " start"
		out, _ := exec.Command("sh", "-c", start).CombinedOutput()
		if out2, err := exec.Command("sh", "-c", cmd).CombinedOutput(); err != nil {
			return fmt.Errorf("monitor after start failed: %v\n%s\n%s", err, out, out2)
		}
	}
	js := filepath.Join(tmp, "h.json")
	hf := exec.Command("hyperfine", "-N", "--warmup", "1", "--runs", strconv.Itoa(runs), "--export-json", js,
		"-n", "ocf:lvs:ping monitor", "sh -c \""+strings.ReplaceAll(ours, `"`, `\"`)+"\"",
		"-n", "ocf:pacemaker:ping monitor", "sh -c \""+strings.ReplaceAll(theirs, `"`, `\"`)+"\"",
		"-n", "ocf:pacemaker:ping monitor use_fping=false", "sh -c \""+strings.ReplaceAll(theirsPing, `"`, `\"`)+"\"")
	hf.Stdout, hf.Stderr = os.Stdout, os.Stderr
	if err := hf.Run(); err != nil {
		return fmt.Errorf("hyperfine: %v", err)
	}
	var r struct {
		Results []struct {
			Command string  `json:"command"`
			Mean    float64 `json:"mean"`
			Stddev  float64 `json:"stddev"`
		} `json:"results"`
	}
	b, err := os.ReadFile(js)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &r); err != nil || len(r.Results) != 3 {
		return fmt.Errorf("hyperfine json: %v", err)
	}
	o := r.Results[0]
	fmt.Println()
	for _, x := range r.Results {
		fmt.Printf("%-44s %8.1f ms ± %.1f\n", x.Command, x.Mean*1000, x.Stddev*1000)
	}
	for _, x := range r.Results[1:] {
		fmt.Printf("ratio (%s / ours): %.1fx\n", x.Command, x.Mean/o.Mean)
	}
	target := 1050.0
	if o.Mean*1000 > target {
		fmt.Printf("WARNING: ours %.1f ms is above the target of one timeout + 50 ms (%.0f ms)\n", o.Mean*1000, target)
	}
	return nil
}
