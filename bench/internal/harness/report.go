package harness

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Result words of a row.
const (
	Met    = "met"
	NotMet = "NOT MET"
	OK     = "ok"
	Fail   = "FAIL"
)

// Report is a suite's table of figures; it prints aligned and is written as JSON.
type Report struct {
	Suite   string              `json:"suite"`
	Started time.Time           `json:"started"`
	Elapsed string              `json:"elapsed"`
	Host    map[string]string   `json:"host"`
	Header  []string            `json:"header"`
	Rows    []map[string]string `json:"rows"`
	Notes   []string            `json:"notes,omitempty"`
	Raw     map[string]any      `json:"raw,omitempty"`
}

// NewReport starts a report with the given column names.
func NewReport(suite string, header ...string) *Report {
	host, _ := os.Hostname()
	return &Report{Suite: suite, Started: time.Now().UTC(), Header: header, Raw: map[string]any{},
		Host: map[string]string{"hostname": host, "cpus": fmt.Sprint(runtime.NumCPU()), "go": runtime.Version(), "os": runtime.GOOS + "/" + runtime.GOARCH}}
}

// Add appends a row; cells follow the header (missing cells are empty).
func (r *Report) Add(cells ...string) {
	row := map[string]string{}
	for i, h := range r.Header {
		if i < len(cells) {
			row[h] = cells[i]
		}
	}
	r.Rows = append(r.Rows, row)
}

// Note adds a line printed under the table.
func (r *Report) Note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// Failed reports whether any cell says FAIL.
func (r *Report) Failed() bool {
	for _, row := range r.Rows {
		for _, v := range row {
			if v == Fail {
				return true
			}
		}
	}
	return false
}

// Print writes the aligned table and the notes.
func (r *Report) Print(w io.Writer) {
	r.Elapsed = time.Since(r.Started).Round(time.Second).String()
	fmt.Fprintf(w, "\n== %s (%s, %s CPUs, %s) ==\n", r.Suite, r.Elapsed, r.Host["cpus"], r.Host["go"])
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(r.Header, "\t"))
	seps := make([]string, len(r.Header))
	for i, h := range r.Header {
		seps[i] = strings.Repeat("-", len(h))
	}
	fmt.Fprintln(tw, strings.Join(seps, "\t"))
	for _, row := range r.Rows {
		cells := make([]string, len(r.Header))
		for i, h := range r.Header {
			cells[i] = row[h]
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	_ = tw.Flush()
	for _, n := range r.Notes {
		fmt.Fprintln(w, "  * "+n)
	}
}

// Write stores the report as dir/<suite>.json; an empty dir means bench/results of the
// module. It returns the path.
func (r *Report) Write(dir string) (string, error) {
	if dir == "" {
		root, err := ModuleRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "bench", "results")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	r.Elapsed = time.Since(r.Started).Round(time.Second).String()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, r.Suite+".json")
	return path, os.WriteFile(path, append(b, '\n'), 0o644)
}

// Verdict is Met or NotMet.
func Verdict(ok bool) string {
	if ok {
		return Met
	}
	return NotMet
}

// Check is OK or Fail.
func Check(ok bool) string {
	if ok {
		return OK
	}
	return Fail
}
