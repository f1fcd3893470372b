package contacts

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/wabaplatform/waba/domain"
)

// MaxImportRows is how many data records one contact import may hold.
const MaxImportRows = 1_000_000

// A batch of records is validated at once, on every CPU (CSVReader.fill).
const (
	batchRows  = 1024
	batchBytes = 1 << 20
)

// maxRecordBytes bounds one CSV record (a line, or several when a quoted cell holds line
// breaks): csv.Reader holds a whole record in memory, and an unclosed quote would make the
// rest of the file one record. The longest valid contact row (16 KiB of attributes, 50 tags,
// a 200-character name) is far shorter.
const maxRecordBytes = 64 << 10

// ErrTooManyRows is the error of a CSVReader that met more data records than its limit.
var ErrTooManyRows = errors.New("the CSV has too many rows")

// errRecordTooLong stops the reader in the middle of a record longer than maxRecordBytes.
var errRecordTooLong = errors.New("record too long")

// ImportRow is one validated contact of an imported list: what a store writes. An empty
// field leaves the contact's value as it is (a blank cell never clears anything).
type ImportRow struct {
	// Line is the line of the file the row's record starts on; the header is line 1 (or
	// later, after blank lines), and a quoted cell's line breaks count.
	Line  int
	Phone string // E.164
	Name  string // trimmed; "" leaves the name
	// Tags replace the contact's tags when not empty (normalized, without duplicates).
	Tags []string
	// Attributes holds the non-empty cells of the other columns, as strings, by column
	// name: each sets its key in the contact's attributes, the other keys stay.
	Attributes map[string]any
}

// CSVRow is one data record of a contact list: a valid row, or the reason it is refused.
type CSVRow struct {
	ImportRow
	// Reject says why the record is refused ("" for a valid row); then only Line is set.
	Reject string
}

// CSVReader reads a contact list in CSV, one validated row at a time, holding a batch of
// records (about 1 MiB at most) in memory, never the whole body; a batch is validated on
// every CPU. A CSVReader is used by one goroutine at a time. The header row names the columns: `phone` (required), `name`
// and `tags` (`;`-separated), matched without regard to case, and any other column is an
// attribute of that name; columns with an empty header are ignored. Blank lines and lines
// of empty cells are skipped. A record with more non-empty cells than the header has
// columns is refused; missing trailing cells are empty. Each row is checked with the rules
// the contacts API applies to the same fields.
type CSVReader struct {
	csv     *csv.Reader
	in      *cappedReader
	cols    []column
	maxRows int
	rows    int // data records read
	line    int // where the last record read started
	recs    []record
	batch   []CSVRow // recs validated, served by Next from next on
	next    int
	stop    error // what ended the reading (io.EOF at the end), for after the batch
	row     CSVRow
	err     error
}

// record is a data record as read, before it is validated.
type record struct {
	line   int
	cells  []string
	reject string // csv's own refusal (a stray quote)
}

type columnKind int

const (
	columnIgnored columnKind = iota
	columnPhone
	columnName
	columnTags
	columnAttribute
)

type column struct {
	kind columnKind
	name string // as the header names it
}

// NewCSVReader reads the header row of r and returns the reader of the rows after it,
// which stops with ErrTooManyRows after maxRows data records. A body that is empty, is not
// CSV text or has no phone column is a KindValidation error.
func NewCSVReader(r io.Reader, maxRows int) (*CSVReader, error) {
	r, err := skipBOM(r)
	if err != nil {
		return nil, fmt.Errorf("reading the CSV: %w", err)
	}
	in := &cappedReader{r: r, limit: maxRecordBytes}
	c := csv.NewReader(in)
	c.FieldsPerRecord = -1 // checked per row, with a reason
	// Not c.ReuseRecord: a batch keeps its records until they are validated.
	c.TrimLeadingSpace = true // `a, "b"` is two cells, not a stray quote
	rd := &CSVReader{csv: c, in: in, maxRows: maxRows}
	header, err := c.Read()
	var pe *csv.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return nil, invalidCSV("the body is empty: send CSV text with a header row")
	case errors.Is(err, errRecordTooLong):
		return nil, invalidCSV("the header row is longer than 64 KiB")
	case errors.As(err, &pe):
		return nil, invalidCSV(fmt.Sprintf("the header row is not valid CSV: %v", pe.Err))
	case err != nil:
		return nil, fmt.Errorf("reading the CSV: %w", err)
	}
	seen := map[string]bool{}
	phone := false
	for _, cell := range header {
		name := strings.TrimSpace(cell)
		if !cleanText(name) {
			return nil, invalidCSV("the header row must be UTF-8 text without NUL characters")
		}
		col := column{kind: columnAttribute, name: name}
		key := name
		switch lower := strings.ToLower(name); lower {
		case "":
			col.kind = columnIgnored
		case "phone":
			col.kind, key, phone = columnPhone, lower, true
		case "name":
			col.kind, key = columnName, lower
		case "tags":
			col.kind, key = columnTags, lower
		}
		if col.kind != columnIgnored {
			if seen[key] {
				return nil, invalidCSV(fmt.Sprintf("the header row names the column %q twice", name))
			}
			seen[key] = true
		}
		rd.cols = append(rd.cols, col)
	}
	if !phone {
		return nil, invalidCSV("the header row has no phone column (columns are separated by commas)")
	}
	rd.line, _ = c.FieldPos(0)
	return rd, nil
}

// skipBOM drops the UTF-8 byte order mark spreadsheets put before the header (before a
// quoted cell, csv would take it for a stray quote).
func skipBOM(r io.Reader) (io.Reader, error) {
	var head [3]byte
	n, err := io.ReadFull(r, head[:])
	switch {
	case n == 3 && string(head[:]) == "\uFEFF":
		return r, nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		err = nil // a body shorter than a mark: csv finds it empty or short
	}
	return io.MultiReader(bytes.NewReader(head[:n]), r), err
}

func invalidCSV(msg string) error {
	return &domain.Error{Kind: domain.KindValidation, Message: msg,
		Fields: []domain.FieldError{{Field: "body", Message: msg}}}
}

// cleanText reports whether Postgres can store s as text.
func cleanText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// Next reads the next data record; false at the end of the body or on an error (Err).
func (r *CSVReader) Next() bool {
	for r.next == len(r.batch) {
		if r.stop != nil {
			if !errors.Is(r.stop, io.EOF) {
				r.err = r.stop
			}
			return false
		}
		r.fill()
	}
	r.row = r.batch[r.next]
	r.next++
	return true
}

// fill reads the next batch of records and validates them on every CPU: checking a phone
// costs far more than reading its record (libphonenumber's patterns). A batch ends after
// batchRows records or batchBytes of input, so it holds little whatever the records' size;
// what stopped the reading (the end, an error) is kept in r.stop for after the batch.
func (r *CSVReader) fill() {
	r.recs, r.batch, r.next = r.recs[:0], r.batch[:0], 0
	start := r.csv.InputOffset()
	for r.rows <= r.maxRows && len(r.recs) < batchRows && r.csv.InputOffset()-start < batchBytes {
		r.in.limit = r.csv.InputOffset() + maxRecordBytes
		cells, err := r.csv.Read()
		var pe *csv.ParseError
		switch {
		case errors.Is(err, io.EOF):
			r.stop = io.EOF
		case errors.Is(err, errRecordTooLong):
			r.stop = invalidCSV(fmt.Sprintf("the record after line %d is longer than 64 KiB (an unclosed quote?)", r.line))
		case errors.As(err, &pe):
			// csv has read the record's lines: the next record starts afresh after them.
			if r.count() {
				r.line = pe.StartLine
				r.recs = append(r.recs, record{line: pe.StartLine, reject: "not valid CSV: " + pe.Err.Error()})
			}
			continue
		case err != nil:
			r.stop = fmt.Errorf("reading the CSV: %w", err)
		default:
			r.line, _ = r.csv.FieldPos(0)
			if !blank(cells) && r.count() {
				r.recs = append(r.recs, record{line: r.line, cells: cells})
			}
			continue
		}
		break
	}
	if r.rows > r.maxRows {
		r.stop = fmt.Errorf("%w: at most %d", ErrTooManyRows, r.maxRows)
	}
	r.batch = slices.Grow(r.batch, len(r.recs))[:len(r.recs)]
	workers := min(runtime.GOMAXPROCS(0), len(r.recs)/64+1)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(r.recs); i += workers {
				r.batch[i] = r.parse(r.recs[i])
			}
		})
	}
	wg.Wait()
}

// count counts one more data record, false past the limit (the batch stops there).
func (r *CSVReader) count() bool {
	r.rows++
	return r.rows <= r.maxRows
}

// Row is the record Next read.
func (r *CSVReader) Row() CSVRow { return r.row }

// Err is what stopped the reader early: a KindValidation error for a record that cannot be
// read as CSV, ErrTooManyRows, or the body's own read error (wrapped); nil at the end of
// the body.
func (r *CSVReader) Err() error { return r.err }

func blank(rec []string) bool {
	for _, cell := range rec {
		if strings.TrimSpace(cell) != "" {
			return false
		}
	}
	return true
}

// parse validates one record: every problem is named, "; "-separated. It only reads r, so
// records are parsed in parallel.
func (r *CSVReader) parse(rd record) CSVRow {
	if rd.reject != "" {
		return CSVRow{ImportRow: ImportRow{Line: rd.line}, Reject: rd.reject}
	}
	rec := rd.cells
	var reasons []string
	refuse := func(field, reason string) { reasons = append(reasons, field+": "+reason) }
	if len(rec) > len(r.cols) && !blank(rec[len(r.cols):]) {
		refuse("line", fmt.Sprintf("has %d cells, the header row names %d columns", len(rec), len(r.cols)))
	}
	row := ImportRow{Line: rd.line}
	for i, col := range r.cols {
		if col.kind == columnIgnored {
			continue
		}
		var cell string // a missing trailing cell is empty
		if i < len(rec) {
			cell = strings.TrimSpace(rec[i])
		}
		if !cleanText(cell) {
			refuse(col.name, "must be UTF-8 text without NUL characters")
			continue
		}
		switch col.kind {
		case columnPhone:
			var reason string
			if row.Phone, reason = checkPhone(cell); reason != "" {
				refuse("phone", reason)
			}
		case columnName:
			if reason := checkName(cell); reason != "" {
				refuse("name", reason)
			}
			row.Name = cell
		case columnTags:
			tags, reason := splitTags(cell)
			if reason != "" {
				refuse("tags", reason)
			}
			row.Tags = tags
		case columnAttribute:
			if cell == "" {
				continue
			}
			if row.Attributes == nil {
				row.Attributes = map[string]any{}
			}
			row.Attributes[col.name] = cell
		}
	}
	if row.Attributes != nil {
		if reason := domain.CheckAttributes(row.Attributes); reason != "" {
			refuse("attributes", reason)
		}
	}
	if len(reasons) > 0 {
		return CSVRow{ImportRow: ImportRow{Line: rd.line}, Reject: strings.Join(reasons, "; ")}
	}
	return CSVRow{ImportRow: row}
}

// splitTags reads a `;`-separated tags cell; empty pieces ("vip;" or "a;;b") are skipped.
func splitTags(cell string) ([]string, string) {
	if cell == "" {
		return nil, ""
	}
	pieces := strings.Split(cell, ";")
	tags := pieces[:0]
	for _, p := range pieces {
		if p = strings.TrimSpace(p); p != "" {
			tags = append(tags, p)
		}
	}
	if len(tags) == 0 {
		return nil, ""
	}
	return domain.NormalizeTags(tags)
}

// cappedReader lets csv.Reader read up to limit only: Next moves the limit to
// maxRecordBytes past the end of the last record, so no record can grow past that (csv
// reads ahead a few KiB, which the bound leaves room for).
type cappedReader struct {
	r     io.Reader
	read  int64 // bytes read so far
	limit int64 // read never passes it
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.read >= c.limit {
		return 0, errRecordTooLong
	}
	if int64(len(p)) > c.limit-c.read {
		p = p[:c.limit-c.read]
	}
	n, err := c.r.Read(p)
	c.read += int64(n)
	return n, err
}
