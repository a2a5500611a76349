package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README's walkthroughs run here as real processes, with the commands
// taken from README.md itself, so the docs cannot drift from what works.
//
// A walkthrough is every ```sh block preceded by the line
// `<!-- walkthrough: NAME -->`; blocks of one NAME run in order in one bash,
// in a fresh directory holding bin/ (the binaries) and nothing else, so the
// README's relative paths (./data/..., certs/) land there. The text runs as
// written, but for these rewrites:
//
//   - every 127.0.0.1:7NN prefix (ports 7NN0-7NN9) moves to a free decade of
//     ports, so 127.0.0.1:7100 and 127.0.0.1:710$((i-1)) move together;
//   - `make build` is skipped (the binaries are built once for the tests);
//   - a command started with a trailing `&` gets its output sent to a log
//     and its pid reported, so the test knows and stops every process;
//   - comments are dropped, after they were read for what to check;
//   - bin/tandem-shell is a wrapper giving the shell a long --timeout
//     (walkthroughShellTimeout) before the README's own flags, so that a
//     loaded machine cannot fail a walkthrough: the README's commands must
//     work, how fast they are at the defaults is measured by
//     BenchmarkDefaults.
//
// Checks, from the README's comments: every command must exit 0, except one
// whose comment says `-> refused: TEXT`, which must fail and print TEXT; a
// comment `-> TEXT` means the command's output contains TEXT (TEXT ends at
// ", ", " (" or two spaces, so prose can follow). When the script ends every
// process it started must have stopped: a walkthrough must stop its nodes.
//
// The start-here walkthrough first runs the server command of the Makefile's
// run target (the one `make run` executes) in the background, waits for its
// demo table as a person who started `make run` would, and stops it with
// SIGINT (Ctrl-C) at the end.

// readmeWalkthroughs lists the walkthroughs README.md must have.
var readmeWalkthroughs = []string{"start-here", "three-nodes", "membership", "duplicate", "disaster-recovery", "backup", "security"}

// walkthroughLimit bounds one walkthrough's script; far above what it needs.
const walkthroughLimit = 5 * time.Minute

func TestReadmeWalkthroughs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real clusters")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(t, filepath.Join(root, "README.md"))
	// One directory and one set of ports for all, in README order, as for
	// a person who follows the README from the top in one clone: a
	// walkthrough that reuses another's data directory shows here.
	dir := t.TempDir()
	walkthroughBin(t, filepath.Join(dir, "bin"))
	walks := map[string][]shellCmd{}
	var all []shellCmd
	for _, name := range readmeWalkthroughs {
		var prelude []string
		if name == "start-here" {
			prelude = makeRunPrelude(t, filepath.Join(root, "Makefile"))
		}
		cmds, err := splitCommands(append(prelude, blocks[name]...))
		if err != nil {
			t.Fatalf("walkthrough %s: %v", name, err)
		}
		walks[name] = cmds
		all = append(all, cmds...)
	}
	ports := freePortMap(t, all)
	for _, name := range readmeWalkthroughs {
		t.Run(name, func(t *testing.T) { runWalkthrough(t, dir, ports, walks[name], name == "start-here") })
	}
}

// TestReadmeWalkthroughsParse checks, without running anything, that every
// walkthrough parses into commands, has something to check, and leaves no
// fixed port after the rewrite.
func TestReadmeWalkthroughsParse(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(t, filepath.Join(root, "README.md"))
	ports := portMap{"710": "2010", "718": "2011", "720": "2012", "728": "2013", "730": "2014", "738": "2015"}
	for _, name := range readmeWalkthroughs {
		cmds, err := splitCommands(blocks[name])
		if err != nil {
			t.Fatalf("walkthrough %s: %v", name, err)
		}
		checks := 0
		for _, c := range cmds {
			if c.want != "" {
				checks++
			}
			for _, l := range c.rewrite(ports) {
				if fixedPort.MatchString(l) {
					t.Errorf("walkthrough %s: a fixed port is left after the rewrite: %s", name, l)
				}
			}
		}
		if checks == 0 {
			t.Errorf("walkthrough %s: no `-> TEXT` comment, so nothing checks its output", name)
		}
	}
}

// readmeBlocks returns the lines of the ```sh blocks of each walkthrough
// and fails t when one of readmeWalkthroughs has none.
func readmeBlocks(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	marker := regexp.MustCompile(`^<!-- walkthrough: ([a-z0-9-]+) -->$`)
	blocks := map[string][]string{}
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		m := marker.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil {
			continue
		}
		if i+1 >= len(lines) || strings.TrimSpace(lines[i+1]) != "```sh" {
			t.Fatalf("README.md:%d: walkthrough marker %q not followed by a ```sh block", i+1, m[1])
		}
		j := i + 2
		for ; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
			blocks[m[1]] = append(blocks[m[1]], lines[j])
		}
		i = j
	}
	listed := map[string]bool{}
	for _, name := range readmeWalkthroughs {
		listed[name] = true
		if len(blocks[name]) == 0 {
			t.Fatalf("README.md has no walkthrough %q (a `<!-- walkthrough: %s -->` line before a ```sh block)", name, name)
		}
	}
	for name := range blocks {
		if !listed[name] {
			t.Fatalf("README.md walkthrough %q is not in readmeWalkthroughs: it would never run", name)
		}
	}
	return blocks
}

// makeRunPrelude returns the commands that stand for `make run` in another
// terminal: the run target's tandem-server command, in the background, then
// a wait until its demo table answers.
func makeRunPrelude(t *testing.T, makefile string) []string {
	t.Helper()
	b, err := os.ReadFile(makefile)
	if err != nil {
		t.Fatal(err)
	}
	var recipe []string
	in := false
	for _, l := range strings.Split(strings.ReplaceAll(string(b), "\\\n", " "), "\n") {
		switch {
		case strings.HasPrefix(l, "run:"):
			in = true
		case in && strings.HasPrefix(l, "\t"):
			recipe = append(recipe, strings.TrimSpace(l))
		case in:
			in = false
		}
	}
	for _, l := range recipe {
		if !strings.Contains(l, "tandem-server") || strings.HasPrefix(l, "@") {
			continue
		}
		l = strings.TrimPrefix(l, "exec ")
		l = strings.NewReplacer("$(BIN)", "bin", "$(DATA)", "./data").Replace(l)
		l = strings.Join(strings.Fields(l), " ")
		return []string{l + " &",
			// Not README text: the person at the other terminal waits
			// until `make run` has its table before typing.
			"until bin/tandem-shell --addr 127.0.0.1:7100 -e 'count demo' >/dev/null 2>&1; do sleep 0.2; done"}
	}
	t.Fatalf("%s: no tandem-server command in the run target", makefile)
	return nil
}

// shellCmd is one top-level command of a walkthrough: its lines (code, no
// comments) and what its comments say to check.
type shellCmd struct {
	lines   []string
	want    string // output must contain it
	refused bool   // must exit non-zero
	skip    bool   // make build
}

func (c shellCmd) text() string { return strings.Join(c.lines, "\n") }

var (
	fixedPort  = regexp.MustCompile(`127\.0\.0\.1:7[0-9]{2}[0-9$]`)
	portPrefix = regexp.MustCompile(`127\.0\.0\.1:(7[0-9]{2})([0-9$])`)
	bgSuffix   = regexp.MustCompile(`[^&]&\s*$`)
)

// portMap maps a README port prefix (7NN) to a free one (4 digits).
type portMap map[string]string

// rewrite returns the command's lines with ports moved and background
// starts logged and reported (see the top of the file).
func (c shellCmd) rewrite(ports portMap) []string {
	var out []string
	for _, l := range c.lines {
		l = portPrefix.ReplaceAllStringFunc(l, func(m string) string {
			sm := portPrefix.FindStringSubmatch(m)
			if to, ok := ports[sm[1]]; ok {
				return "127.0.0.1:" + to + sm[2]
			}
			return m
		})
		if bgSuffix.MatchString(l) {
			l = strings.TrimRight(l, " \t")
			l = l[:len(l)-1] + `>>"$TANDEM_WALKTHROUGH_LOG" 2>&1 & echo "@@bg $!"`
		}
		out = append(out, l)
	}
	return out
}

// splitCommands groups lines into top-level commands: a line, with its
// backslash continuations and, for for/while/until/if/case, the lines up to
// the matching done/fi/esac.
func splitCommands(lines []string) ([]shellCmd, error) {
	var cmds []shellCmd
	var cur shellCmd
	depth, cont := 0, false
	for i, raw := range lines {
		code, comment, delta, err := scanShellLine(raw)
		if err != nil {
			return nil, fmt.Errorf("line %d %q: %w", i+1, raw, err)
		}
		if strings.TrimSpace(code) == "" && depth == 0 && !cont {
			continue
		}
		cur.lines = append(cur.lines, strings.TrimRight(code, " \t"))
		if want, refused, ok := parseExpect(comment); ok {
			cur.want, cur.refused = want, refused
		}
		depth += delta
		cont = strings.HasSuffix(strings.TrimRight(code, " \t"), "\\")
		if depth < 0 {
			return nil, fmt.Errorf("line %d: unbalanced done/fi/esac", i+1)
		}
		if depth == 0 && !cont {
			cur.skip = cur.text() == "make build"
			cmds = append(cmds, cur)
			cur = shellCmd{}
		}
	}
	if depth != 0 || cont {
		return nil, errors.New("the block ends inside a command")
	}
	return cmds, nil
}

// scanShellLine splits a line into code and comment (a # starting a word
// outside quotes) and counts its opening (do, if, case) minus closing
// (done, fi, esac) keywords. Quotes must close on the line.
func scanShellLine(line string) (code, comment string, delta int, err error) {
	var quote byte
	word := strings.Builder{}
	flush := func() {
		switch word.String() {
		case "do", "if", "case":
			delta++
		case "done", "fi", "esac":
			delta--
		}
		word.Reset()
	}
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			} else if ch == '\\' && quote == '"' {
				i++
			}
			continue
		case ch == '\'' || ch == '"':
			quote = ch
		case ch == '\\':
			i++
		case ch == '#' && word.Len() == 0 && (i == 0 || strings.ContainsRune(" \t;", rune(line[i-1]))):
			flush()
			return line[:i], line[i+1:], delta, nil
		case strings.ContainsRune(" \t;&|()", rune(ch)):
			flush()
			continue
		}
		if ch != '\'' && ch != '"' {
			word.WriteByte(ch)
		} else {
			word.WriteString("\x00") // a quoted word is never a keyword
		}
	}
	if quote != 0 {
		return "", "", 0, errors.New("quote not closed on the line")
	}
	flush()
	return line, "", delta, nil
}

// parseExpect reads `-> TEXT` or `-> refused: TEXT` from a comment.
func parseExpect(comment string) (want string, refused, ok bool) {
	_, rest, found := strings.Cut(comment, "-> ")
	if !found {
		return "", false, false
	}
	if r, ok := strings.CutPrefix(rest, "refused: "); ok {
		rest, refused = r, true
	}
	for _, stop := range []string{", ", " (", "  "} {
		rest, _, _ = strings.Cut(rest, stop)
	}
	return strings.TrimSpace(rest), refused, true
}

// walkthroughResult is what one command printed and its exit status.
type walkthroughResult struct {
	out string
	rc  int
}

// runWalkthrough runs the walkthrough's commands as one bash script in dir
// and checks every command and that every started process ended; with
// makeRun its first background process stands for `make run` in another
// terminal and gets a Ctrl-C at the end.
func runWalkthrough(t *testing.T, dir string, ports portMap, cmds []shellCmd, makeRun bool) {
	bgLog := filepath.Join(t.TempDir(), "background.log")
	script := walkthroughScript(cmds, ports)
	scriptPath := filepath.Join(t.TempDir(), "walkthrough.sh")
	if err := os.WriteFile(scriptPath, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	outPath := filepath.Join(t.TempDir(), "out")
	results, bg, runErr := runScript(t, dir, scriptPath, outPath, bgLog, cmds)
	failed := false
	report := func(format string, args ...any) {
		failed = true
		t.Errorf(format, args...)
	}
	if runErr != nil {
		report("walkthrough script: %v", runErr)
	}
	unfinished := false
	for i, c := range cmds {
		r, ran := results[i]
		if unfinished || (!ran && c.skip) {
			continue
		}
		if ran && testing.Verbose() {
			t.Logf("command %d (exit %d):\n%s\n--- output:\n%s", i, r.rc, c.text(), r.out)
		}
		switch {
		case c.skip:
		case !ran:
			unfinished = true
			report("command %d did not finish (nor did any after it):\n%s", i, c.text())
		case c.refused && r.rc == 0:
			report("command %d should be refused but exited 0:\n%s\n--- output:\n%s", i, c.text(), r.out)
		case !c.refused && r.rc != 0:
			report("command %d exited %d:\n%s\n--- output:\n%s", i, r.rc, c.text(), r.out)
		case !strings.Contains(r.out, c.want):
			report("command %d: the README says its output shows %q:\n%s\n--- output:\n%s", i, c.want, c.text(), r.out)
		}
	}
	if makeRun && len(bg) > 0 {
		_ = syscall.Kill(bg[0], syscall.SIGINT) // Ctrl-C on `make run`
	}
	for _, pid := range bg {
		if !waitGone(pid, 30*time.Second) {
			report("process %d started by the walkthrough still runs after it: a walkthrough must stop its nodes", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if failed {
		t.Logf("script:\n%s", script)
		if b, err := os.ReadFile(bgLog); err == nil {
			t.Logf("end of the background processes' log:\n%s", b[max(0, len(b)-6000):])
		}
	}
}

// walkthroughShellTimeout is the --timeout every tandem-shell of a
// walkthrough gets before the README's own flags: the shell's default (10s)
// is a wall-clock budget, and a loaded machine must not fail a walkthrough.
// How fast the commands are at the defaults is BenchmarkDefaults' business.
const walkthroughShellTimeout = "3m"

// walkthroughBin makes the walkthrough's bin/: the binaries, with
// tandem-shell behind a wrapper that gives it walkthroughShellTimeout (a
// later --timeout in the README's command still wins).
func walkthroughBin(t *testing.T, dir string) {
	t.Helper()
	bin := Binaries(t)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tandem-server", "tandem-verify"} {
		if err := os.Symlink(filepath.Join(bin, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	wrapper := fmt.Sprintf("#!/bin/sh\nexec '%s' --timeout %s \"$@\"\n", filepath.Join(bin, "tandem-shell"), walkthroughShellTimeout)
	if err := os.WriteFile(filepath.Join(dir, "tandem-shell"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
}

// walkthroughScript assembles the bash script: each command between
// markers that carry its index and exit status.
func walkthroughScript(cmds []shellCmd, ports portMap) string {
	var b strings.Builder
	for i, c := range cmds {
		if c.skip {
			continue
		}
		fmt.Fprintf(&b, "printf '@@begin %d\\n'\n", i)
		for _, l := range c.rewrite(ports) {
			b.WriteString(l + "\n")
		}
		fmt.Fprintf(&b, "__walkthrough_rc=$?; printf '\\n@@end %d %%s\\n' \"$__walkthrough_rc\"\n", i)
	}
	return b.String()
}

// freePortMap gives each port prefix 7NN the script uses a decade of ports
// (in this binary's share of 20000-31999, below the ephemeral range) where
// nothing listens now.
func freePortMap(t *testing.T, cmds []shellCmd) portMap {
	t.Helper()
	ports := portMap{}
	used := map[int]bool{}
	for _, c := range cmds {
		for _, l := range c.lines {
			for _, m := range portPrefix.FindAllStringSubmatch(l, -1) {
				if _, ok := ports[m[1]]; !ok {
					ports[m[1]] = strconv.Itoa(freeDecade(t, used))
				}
			}
		}
	}
	return ports
}

// freeDecade returns d such that ports d*10 to d*10+9 are free, in this
// binary's share of ports (portShare), and d is not in used.
func freeDecade(t *testing.T, used map[int]bool) int {
	t.Helper()
	lo, n := portShare()
	first, decades := lo/10, n/10
	for d := first + int(time.Now().UnixNano()%int64(decades)); ; d++ {
		if d >= first+decades {
			d = first
		}
		if used[d] {
			continue
		}
		free := true
		for p := d * 10; p < d*10+10 && free; p++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				free = false
				continue
			}
			ln.Close()
		}
		if free {
			used[d] = true
			portsMu.Lock()
			for p := d * 10; p < d*10+10; p++ {
				portsGiven[p] = true // FreeAddr must not hand these out too
			}
			portsMu.Unlock()
			return d
		}
	}
}

// runScript runs the script with bash in dir (its own process group, no
// standard input) within walkthroughLimit, and returns each finished
// command's output and exit status by index, and the background pids.
func runScript(t *testing.T, dir, script, outPath, bgLog string, cmds []shellCmd) (map[int]walkthroughResult, []int, error) {
	out, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command("bash", script)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = append(walkthroughEnv(), "TANDEM_WALKTHROUGH_LOG="+bgLog)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Whatever happens, nothing of the script's process group outlives
	// the test.
	pgid := cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
	ctx, cancel := context.WithTimeout(context.Background(), walkthroughLimit)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var runErr error
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case runErr = <-done:
			break wait
		case <-ctx.Done():
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
			runErr = fmt.Errorf("still running after %s: killed", walkthroughLimit)
			break wait
		case <-tick.C:
			// A node that exits on its own (refuses its flags or data
			// directory, crashes) would leave the README's wait loops
			// waiting: stop at once and say which.
			if pid, by, ok := unexpectedExit(outPath, cmds); ok {
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				<-done
				runErr = fmt.Errorf("process %d, started by command %d (%s), exited before the walkthrough stopped it", pid, by, cmds[by].text())
				break wait
			}
		}
	}
	results, bg := parseWalkthroughOutput(t, outPath)
	return results, bg, runErr
}

// walkthroughEnv is the test's environment without credentials a
// walkthrough should not inherit.
func walkthroughEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TANDEM_") {
			env = append(env, kv)
		}
	}
	return env
}

// parseWalkthroughOutput splits the script's output at the markers.
func parseWalkthroughOutput(t *testing.T, path string) (map[int]walkthroughResult, []int) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	results := map[int]walkthroughResult{}
	var bg []int
	cur, buf := -1, strings.Builder{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		l := sc.Text()
		var a, b int
		switch {
		case strings.HasPrefix(l, "@@bg "):
			if pid, err := strconv.Atoi(strings.TrimPrefix(l, "@@bg ")); err == nil {
				bg = append(bg, pid)
			}
		case strings.HasPrefix(l, "@@begin "):
			if _, err := fmt.Sscanf(l, "@@begin %d", &a); err == nil {
				cur = a
				buf.Reset()
			}
		case strings.HasPrefix(l, "@@end "):
			if _, err := fmt.Sscanf(l, "@@end %d %d", &a, &b); err == nil && a == cur {
				results[a] = walkthroughResult{out: strings.TrimSuffix(buf.String(), "\n"), rc: b}
				cur = -1
			}
		default:
			buf.WriteString(l + "\n")
		}
	}
	if cur >= 0 {
		// Unfinished: keep its output for the report, without an exit
		// status (the caller sees it missing from the map).
		t.Logf("command %d did not finish; its output:\n%s", cur, buf.String())
	}
	return results, bg
}

// waitGone waits until process pid no longer exists.
func waitGone(pid int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) || zombie(pid) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// zombie reports whether pid has exited but not been reaped yet (its
// parent, bash, is gone and whoever inherited it has not waited for it).
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// unexpectedExit looks for a background process that is gone although no
// kill command of the walkthrough began after it started; it returns its
// pid and the index of the command that started it.
func unexpectedExit(outPath string, cmds []shellCmd) (pid, startedBy int, ok bool) {
	b, err := os.ReadFile(outPath)
	if err != nil {
		return 0, 0, false
	}
	started := map[int]int{} // pid -> command that started it
	cur := -1
	for _, l := range strings.Split(string(b), "\n") {
		var n int
		switch {
		case strings.HasPrefix(l, "@@begin "):
			if _, err := fmt.Sscanf(l, "@@begin %d", &n); err == nil && n < len(cmds) {
				cur = n
				if strings.HasPrefix(cmds[n].text(), "kill ") {
					clear(started) // whatever ran may be this command's target
				}
			}
		case strings.HasPrefix(l, "@@bg "):
			if p, err := strconv.Atoi(strings.TrimPrefix(l, "@@bg ")); err == nil && cur >= 0 {
				started[p] = cur
			}
		}
	}
	for p, by := range started {
		if err := syscall.Kill(p, 0); errors.Is(err, syscall.ESRCH) || zombie(p) {
			return p, by, true
		}
	}
	return 0, 0, false
}
