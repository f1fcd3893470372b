package httpapi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCSVCellNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`=HYPERLINK("http://x.example","click")`: `'=HYPERLINK("http://x.example","click")`,
		"+1+cmd|' /C calc'!A0":                   "'+1+cmd|' /C calc'!A0",
		"-2+3":                                   "'-2+3",
		"@SUM(A1)":                               "'@SUM(A1)",
		"\t=1":                                   "'\t=1",
		"\r=1":                                   "'\r=1",
		"+14155550100":                           "+14155550100", // a phone: a plain number
		"-12.5":                                  "-12.5",
		"Ann = Bea":                              "Ann = Bea",
		"":                                       "",
	} {
		require.Equal(t, want, csvCell(in), "%q", in)
	}
}
