package httpapi

import (
	"encoding/csv"
	"net/http"
	"regexp"
	"strings"

	"github.com/labstack/echo/v4"
)

// csvCell neutralises a cell a spreadsheet would take for a formula (CSV injection, as
// OWASP advises): a cell starting with =, +, -, @, a tab or a carriage return gets a
// leading '. A plain number is left as it is: without a letter or a parenthesis it calls
// nothing, and an E.164 phone (+14155550100) stays usable.
func csvCell(s string) string {
	if s == "" || !strings.ContainsRune("=+-@\t\r", rune(s[0])) || plainNumber.MatchString(s) {
		return s
	}
	return "'" + s
}

var plainNumber = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)

// streamCSV answers a CSV file, streamed: export hands write each record as it reads it,
// every cell neutralised (csvCell), and the records reach the client flushed every 500, so
// memory stays flat whatever their number. The response is committed with the first
// record (or at the end), so that an error before it (no permission, not found, a bad
// filter) is still a problem document; after it the error handler only logs the error and
// the file is truncated.
func streamCSV(c echo.Context, filename string, header []string, export func(write func(record []string) error) error) error {
	res := c.Response()
	w := csv.NewWriter(res)
	n := 0
	started := false
	begin := func() error {
		started = true
		res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		res.Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+filename+`"`)
		res.WriteHeader(http.StatusOK)
		return w.Write(header)
	}
	err := export(func(record []string) error {
		if !started {
			if err := begin(); err != nil {
				return err
			}
		}
		for i, cell := range record {
			record[i] = csvCell(cell)
		}
		if err := w.Write(record); err != nil {
			return err
		}
		if n++; n%500 == 0 {
			w.Flush()
			res.Flush()
		}
		return w.Error()
	})
	if err != nil {
		return err
	}
	if !started {
		if err := begin(); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}
