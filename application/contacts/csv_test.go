package contacts_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/domain"
)

// readAll reads every row of a CSV and the reader's final error.
func readAll(t *testing.T, text string, maxRows int) ([]contacts.CSVRow, error) {
	t.Helper()
	rd, err := contacts.NewCSVReader(strings.NewReader(text), maxRows)
	require.NoError(t, err)
	var rows []contacts.CSVRow
	for rd.Next() {
		rows = append(rows, rd.Row())
	}
	return rows, rd.Err()
}

func valid(line int, phone, name string, tags []string, attrs map[string]any) contacts.CSVRow {
	return contacts.CSVRow{ImportRow: contacts.ImportRow{Line: line, Phone: phone, Name: name, Tags: tags, Attributes: attrs}}
}

func rejected(line int, reason string) contacts.CSVRow {
	return contacts.CSVRow{ImportRow: contacts.ImportRow{Line: line}, Reject: reason}
}

func TestCSVReader(t *testing.T) {
	t.Parallel()
	const badPhone = "phone: must be a valid phone number with its country code"

	cases := map[string]struct {
		text string
		want []contacts.CSVRow
	}{
		"EveryColumn": {
			"phone,name,tags,city,Plan\n+1 (415) 555-0100, Ann ,vip; lead;vip,Pune,gold\n",
			[]contacts.CSVRow{valid(2, "+14155550100", "Ann", []string{"vip", "lead"}, map[string]any{"city": "Pune", "Plan": "gold"})},
		},
		"PhoneOnly": {"phone\n14155550100\n004915123456789\n", []contacts.CSVRow{
			valid(2, "+14155550100", "", nil, nil), valid(3, "+4915123456789", "", nil, nil)}},
		"HeaderCaseAndSpaces": {" Phone , NAME ,Tags\n+14155550100,Ann,a\n", []contacts.CSVRow{
			valid(2, "+14155550100", "Ann", []string{"a"}, nil)}},
		"ByteOrderMark": {"\uFEFFphone,name\n+14155550100,Ann\n", []contacts.CSVRow{valid(2, "+14155550100", "Ann", nil, nil)}},
		"ByteOrderMarkBeforeAQuote": {"\uFEFF\"phone\",\"name\"\n\"+14155550100\",\"Ann\"\n", []contacts.CSVRow{
			valid(2, "+14155550100", "Ann", nil, nil)}},
		"CRLF": {"phone,name\r\n+14155550100,Ann\r\n+14155550101,Bob\r\n", []contacts.CSVRow{
			valid(2, "+14155550100", "Ann", nil, nil), valid(3, "+14155550101", "Bob", nil, nil)}},
		"QuotedCellsAndTheirLineBreaks": {
			"phone,name,note\n\"+14155550100\",\"Doe, Ann\",\"two\nlines\"\n+14155550101,\"Say \"\"hi\"\"\",x\n+1415555010z,x,x\n",
			[]contacts.CSVRow{
				valid(2, "+14155550100", "Doe, Ann", nil, map[string]any{"note": "two\nlines"}),
				valid(4, "+14155550101", `Say "hi"`, nil, map[string]any{"note": "x"}),
				rejected(5, badPhone),
			}},
		"BlankLinesAndEmptyRowsAreSkipped": {"\nphone,name\n\n+14155550100,Ann\n , \n,\n\n+14155550101,Bob", []contacts.CSVRow{
			valid(4, "+14155550100", "Ann", nil, nil), valid(8, "+14155550101", "Bob", nil, nil)}},
		"DuplicatesAreTheStoresToCollapse": {"phone,name\n+14155550100,Ann\n14155550100,Annie\n", []contacts.CSVRow{
			valid(2, "+14155550100", "Ann", nil, nil), valid(3, "+14155550100", "Annie", nil, nil)}},
		"BadPhones": {"phone,name\n12345,a\n+1 415 555 01,b\nnot a phone,c\n,d\n" + strings.Repeat("1", 41) + ",e\n", []contacts.CSVRow{
			rejected(2, badPhone), rejected(3, badPhone), rejected(4, badPhone), rejected(5, "phone: is required"), rejected(6, badPhone)}},
		"ShortRecordsHaveEmptyCells": {"name,tags,phone\nAnn\nBob,vip,+14155550100\n", []contacts.CSVRow{
			rejected(2, "phone: is required"), valid(3, "+14155550100", "Bob", []string{"vip"}, nil)}},
		"LongRecords": {"phone,name\n+14155550100,Ann,,  \n+14155550101,Bob,extra\n", []contacts.CSVRow{
			valid(2, "+14155550100", "Ann", nil, nil), rejected(3, "line: has 3 cells, the header row names 2 columns")}},
		"Names": {fmt.Sprintf("phone,name\n+14155550100,%s\n+14155550101,%sé\n", strings.Repeat("é", 200), strings.Repeat("é", 200)), []contacts.CSVRow{
			valid(2, "+14155550100", strings.Repeat("é", 200), nil, nil), rejected(3, "name: must be at most 200 characters")}},
		"Tags": {fmt.Sprintf("phone,tags\n+14155550100,a;;b; \n+14155550101, ; \n+14155550102,%s\n+14155550103,%s\n",
			strings.Repeat("t;", 51), strings.Repeat("x", 65)), []contacts.CSVRow{
			valid(2, "+14155550100", "", []string{"a", "b"}, nil),
			valid(3, "+14155550101", "", nil, nil),
			rejected(4, "tags: at most 50 tags"),
			rejected(5, "tags: each tag must be 1 to 64 characters"),
		}},
		"Attributes": {fmt.Sprintf("phone,city,,notes\n+14155550100,,ignored,\n+14155550101, Pune ,x,%s\n",
			strings.Repeat("n", 16<<10)), []contacts.CSVRow{
			valid(2, "+14155550100", "", nil, nil),
			rejected(3, "attributes: must be at most 16 KiB of JSON"),
		}},
		"TextPostgresCannotStore": {"phone,name,city\n+14155550100,\xff\xfe,x\n+14155550101,a,b\x00c\n", []contacts.CSVRow{
			rejected(2, "name: must be UTF-8 text without NUL characters"),
			rejected(3, "city: must be UTF-8 text without NUL characters"),
		}},
		"EveryProblemIsNamed": {fmt.Sprintf("phone,name,tags\nx,%s,%s\n", strings.Repeat("n", 201), strings.Repeat("t", 65)), []contacts.CSVRow{
			rejected(2, badPhone+"; name: must be at most 200 characters; tags: each tag must be 1 to 64 characters")}},
		"MalformedRecordsAreRefusedOneByOne": {"phone,name\n+14155550100,An\"n\n+14155550101,\"Bob\"x\n+14155550102,Cy\n+14155550103,\"unclosed\n",
			[]contacts.CSVRow{
				rejected(2, `not valid CSV: bare " in non-quoted-field`),
				rejected(3, `not valid CSV: extraneous or missing " in quoted-field`),
				valid(4, "+14155550102", "Cy", nil, nil),
				rejected(5, `not valid CSV: extraneous or missing " in quoted-field`),
			}},
		"HeaderOnly": {"phone,name\n", nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rows, err := readAll(t, tc.text, 100)
			require.NoError(t, err)
			require.Equal(t, tc.want, rows)
		})
	}
}

func TestCSVReaderRefusesTheFile(t *testing.T) {
	t.Parallel()
	for name, text := range map[string]string{
		"Empty":              "",
		"OnlyAByteOrderMark": "\uFEFF",
		"ShorterThanAMark":   "p",
		"OnlyBlankLines":     "\n\r\n\n",
		"NoPhoneColumn":      "name,tags\nAnn,vip\n",
		"SemicolonSeparated": "phone;name\n+14155550100;Ann\n",
		"PhoneTwice":         "phone,Phone\n+14155550100,+14155550101\n",
		"AttributeTwice":     "phone,city,city\n",
		"HeaderNotUTF8":      "phone,\xff\n",
		"HeaderMalformed":    "phone,\"name\n",
		"HeaderTooLong":      "phone," + strings.Repeat("x", 70<<10) + "\n",
		"JSON":               `{"phone": "+14155550100"}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := contacts.NewCSVReader(strings.NewReader(text), 100)
			require.Equal(t, domain.KindValidation, domain.KindOf(err), "got %v", err)
		})
	}
}

func TestCSVReaderStops(t *testing.T) {
	t.Parallel()

	t.Run("AfterMaxRows", func(t *testing.T) {
		t.Parallel()
		// Blank lines do not count; refused rows do.
		rows, err := readAll(t, "phone\n+14155550100\n\nx\n+14155550102\n", 2)
		require.ErrorIs(t, err, contacts.ErrTooManyRows)
		require.Len(t, rows, 2)
		rows, err = readAll(t, "phone\n+14155550100\n\nx\n", 2)
		require.NoError(t, err)
		require.Len(t, rows, 2)
		// Past a batch of records too.
		rows, err = readAll(t, "phone\n"+strings.Repeat("x\n", 3000), 2500)
		require.ErrorIs(t, err, contacts.ErrTooManyRows)
		require.Len(t, rows, 2500)
		require.Equal(t, 2501, rows[2499].Line)
	})

	t.Run("AtARecordTooLong", func(t *testing.T) {
		t.Parallel()
		// An unclosed quote would make the rest of the file one record.
		rows, err := readAll(t, "phone,name\n+14155550100,Ann\n+14155550101,\"Bob\n"+strings.Repeat("+14155550102,Cy\n", 10_000), 100_000)
		require.Equal(t, domain.KindValidation, domain.KindOf(err), "got %v", err)
		require.Contains(t, err.Error(), "after line 2 is longer than 64 KiB")
		require.Len(t, rows, 1)
	})

	t.Run("AtTheBodysError", func(t *testing.T) {
		t.Parallel()
		broken := errors.New("connection reset")
		rd, err := contacts.NewCSVReader(io.MultiReader(strings.NewReader("phone\n+14155550100\n+1415"), &failing{broken}), 100)
		require.NoError(t, err)
		require.True(t, rd.Next())
		require.False(t, rd.Next())
		require.ErrorIs(t, rd.Err(), broken)
	})
}

type failing struct{ err error }

func (f *failing) Read([]byte) (int, error) { return 0, f.err }

// The reader holds a batch of records (at most 1 MiB and a record) at a time, never the
// body: after the first rows of a long list, it has read little more than a batch. (Rows
// without a phone: their refusal is cheap.)
func TestCSVReaderStreams(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	go func() {
		_, _ = io.WriteString(pw, "phone,name\n")
		for i := range 100_000 {
			if _, err := fmt.Fprintf(pw, ",Customer %d%s\n", i, strings.Repeat(" ", 80)); err != nil {
				return
			}
		}
		pw.Close()
	}()
	counted := &countingReader{r: pr}
	rd, err := contacts.NewCSVReader(counted, contacts.MaxImportRows)
	require.NoError(t, err)
	n := 0
	for rd.Next() {
		if r := rd.Row(); r.Line != n+2 || r.Reject != "phone: is required" {
			require.Equal(t, rejected(n+2, "phone: is required"), r)
		}
		if n++; n == 1000 {
			require.Less(t, counted.n, int64(1<<20+64<<10+4<<10), "read ahead of the rows")
		}
	}
	require.NoError(t, rd.Err())
	require.Equal(t, 100_000, n)
	require.Greater(t, counted.n, int64(8<<20))
	pr.Close()
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// FuzzCSVReader holds the reader (which reads what anyone uploads) to its promises on any
// input: no panic, rows in line order, each either refused with a reason or valid by the
// contact rules, and an error only of the kinds it names.
func FuzzCSVReader(f *testing.F) {
	for _, seed := range []string{
		"phone,name,tags,city\n+14155550100,Ann,vip;lead,Pune\n",
		"\uFEFFphone\r\n14155550100\r\n\r\n",
		"phone,name\n\"+14155550100\",\"a\nb\"\n+1,\"x\n",
		"phone,name\n+14155550100,An\"n\n+14155550101,\"Bob\"x\n",
		"name,phone,,x\nAnn,+14155550100,,\n,,,\n",
		"phone,tags\n+14155550100,;;;\n",
		"phone\n\xff\x00\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		const maxRows = 50
		rd, err := contacts.NewCSVReader(strings.NewReader(string(body)), maxRows)
		if err != nil {
			require.Equal(t, domain.KindValidation, domain.KindOf(err), "header: %v", err)
			return
		}
		last, n := 0, 0
		for rd.Next() {
			r := rd.Row()
			n++
			require.Greater(t, r.Line, last, "lines increase")
			last = r.Line
			if r.Reject != "" {
				require.Equal(t, contacts.CSVRow{ImportRow: contacts.ImportRow{Line: r.Line}, Reject: r.Reject}, r)
				continue
			}
			require.True(t, strings.HasPrefix(r.Phone, "+"), "phone %q", r.Phone)
			require.LessOrEqual(t, len([]rune(r.Name)), domain.MaxContactNameRunes)
			tags, reason := domain.NormalizeTags(r.Tags)
			require.Empty(t, reason)
			require.Len(t, tags, len(r.Tags))
			require.Empty(t, domain.CheckAttributes(r.Attributes))
			for _, s := range append([]string{r.Phone, r.Name}, r.Tags...) {
				require.True(t, strings.TrimSpace(s) == s && !strings.ContainsRune(s, 0), "%q", s)
			}
		}
		require.LessOrEqual(t, n, maxRows)
		if err := rd.Err(); err != nil && !errors.Is(err, contacts.ErrTooManyRows) {
			require.Equal(t, domain.KindValidation, domain.KindOf(err), "rows: %v", err)
		}
	})
}
