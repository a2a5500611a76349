package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// Long commands (dup add --wait, checkpoint create) draw progress bars on
// stderr, so stdout keeps exactly what the contract says a command prints
// (dup add's id on the first line, --json's one document). Bars are drawn
// when stderr is a terminal, or always/never as --progress says, and
// never with --json.

// Values of --progress.
const (
	progressAuto   = "auto"
	progressAlways = "always"
	progressNever  = "never"
)

// progressSetting decides where bars go: nil for none. tty is whether the
// writer is a terminal, where a frame redraws the one before in place.
func progressSetting(mode string, jsonOut bool, stderr io.Writer) (w io.Writer, tty bool, err error) {
	tty = isTerminalWriter(stderr)
	switch mode {
	case progressAuto, "":
		if jsonOut || !tty {
			return nil, false, nil
		}
		return stderr, true, nil
	case progressAlways:
		if jsonOut {
			return nil, false, nil
		}
		return stderr, tty, nil
	case progressNever:
		return nil, false, nil
	}
	return nil, false, fmt.Errorf("--progress %q: want auto, always or never", mode)
}

// isTerminalWriter reports whether w is a character device (a terminal).
func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressView draws frames of progress lines. On a terminal each frame
// replaces the one before; elsewhere (a log, a pipe with --progress
// always) a frame is written only when it differs from the last one.
type progressView struct {
	w     io.Writer
	tty   bool
	lines int    // lines of the frame on screen (tty)
	last  string // the last frame written
}

// newProgressView returns a view on w, or nil when w is nil; a nil view
// draws nothing, so callers need no checks.
func newProgressView(w io.Writer, tty bool) *progressView {
	if w == nil {
		return nil
	}
	return &progressView{w: w, tty: tty}
}

// draw shows frame.
func (v *progressView) draw(frame []string) {
	if v == nil {
		return
	}
	text := strings.Join(frame, "\n") + "\n"
	if text == v.last {
		return
	}
	var b strings.Builder
	if v.tty && v.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\r\x1b[J", v.lines) // up to the frame's first line, clear to the end
	}
	b.WriteString(text)
	_, _ = io.WriteString(v.w, b.String()) // a lost progress line is no error of the command
	v.last, v.lines = text, len(frame)
}

// progressBar draws done of total as "[#####.....]" of width cells.
func progressBar(done, total uint64, width int) string {
	filled := 0
	switch {
	case total == 0:
	case done >= total:
		filled = width
	default:
		filled = int(float64(width) * float64(done) / float64(total))
	}
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "]"
}
