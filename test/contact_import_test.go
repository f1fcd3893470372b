package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/httpapi"
)

// A contact list in CSV over HTTP: imported, listed, imported again, refused line by line
// or whole, audited once.
func TestContactImport(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	tm := newTeam(t, a)
	path := func(p string) string { return wsPath(tm, p) }
	importCSV := func(token, text string) Response { return a.Do(t, "POST", path("/contacts/import"), token, CSV(text)) }
	contactOf := func(phone string) map[string]any {
		t.Helper()
		list := a.Must(t, 200, "GET", path("/contacts?phone="+strings.TrimPrefix(phone, "+")), tm.Owner.Token, nil)["data"].([]any)
		require.Len(t, list, 1, phone)
		return list[0].(map[string]any)
	}

	// A contact who opted out keeps it; a deleted number's opt-out comes back with it.
	optedOut := a.Must(t, 201, "POST", path("/contacts"), tm.Owner.Token, map[string]any{"phone": "+14155550100", "name": "Ann"})["id"].(string)
	a.Must(t, 200, "POST", path("/contacts/"+optedOut+"/opt-out"), tm.Owner.Token, nil)
	gone := a.Must(t, 201, "POST", path("/contacts"), tm.Owner.Token, map[string]any{"phone": "+14155550109"})["id"].(string)
	a.Must(t, 200, "POST", path("/contacts/"+gone+"/opt-out"), tm.Owner.Token, nil)
	a.Must(t, 204, "DELETE", path("/contacts/"+gone), tm.Owner.Token, nil)
	a.Must(t, 201, "POST", "/v1/workspaces/"+tm.OtherWS+"/contacts", tm.Outside.Token, map[string]any{"phone": "+14155550101", "name": "Globex's"})

	res := importCSV(tm.Manager.Token, "\uFEFFphone,name,tags,city\r\n"+
		"+1 (415) 555-0100,Ann Lee,vip;lead,Pune\r\n"+ // 2: updates the opted-out contact
		"not a phone,Bob,,\r\n"+ // 3
		"\r\n"+ // 4: blank
		"14155550101,\"Lee, Bea\",,\"Goa\r\nnorth\"\r\n"+ // 5-6: a quoted line break (read as \n)
		"+14155550102,Cy,,\r\n"+ // 7: superseded by line 9
		"+14155550109,Back,,\r\n"+ // 8: a deleted number, opted out
		"+14155550102,Cyd,x,\r\n") // 9
	require.Equal(t, 200, res.Status, "%s", res.Body)
	require.Equal(t, map[string]any{"accepted": 5.0, "created": 3.0, "updated": 1.0, "unchanged": 0.0, "duplicates": 1.0,
		"rejected":       []any{map[string]any{"line": 3.0, "reason": "phone: must be a valid phone number with its country code"}},
		"rejected_count": 1.0}, res.JSON(t))

	ann := contactOf("+14155550100")
	require.Equal(t, "Ann Lee", ann["name"])
	require.Equal(t, []any{"vip", "lead"}, ann["tags"])
	require.Equal(t, map[string]any{"city": "Pune"}, ann["attributes"])
	require.Equal(t, true, ann["opted_out"], "an import changes no opt-out")
	require.Equal(t, "api", ann["opt_out_source"])
	bea := contactOf("+14155550101")
	require.Equal(t, "Lee, Bea", bea["name"])
	require.Equal(t, "14155550101", bea["wa_id"])
	require.Equal(t, map[string]any{"city": "Goa\nnorth"}, bea["attributes"])
	require.Equal(t, false, bea["opted_out"])
	require.Equal(t, "Cyd", contactOf("+14155550102")["name"], "a phone's last line wins")
	require.Equal(t, true, contactOf("+14155550109")["opted_out"], "the suppression list applies to new contacts")
	other := a.Must(t, 200, "GET", "/v1/workspaces/"+tm.OtherWS+"/contacts", tm.Outside.Token, nil)["data"].([]any)
	require.Len(t, other, 1)
	require.Equal(t, "Globex's", other[0].(map[string]any)["name"], "another workspace is untouched")

	// Again, with one change: an empty cell leaves a value, a given one replaces it.
	res = importCSV(tm.Owner.Token, "name,phone,tags\nAnn Lee,+14155550100,\n,+14155550101,new\n")
	require.Equal(t, 200, res.Status, "%s", res.Body)
	require.Equal(t, map[string]any{"accepted": 2.0, "created": 0.0, "updated": 1.0, "unchanged": 1.0, "duplicates": 0.0,
		"rejected": []any{}, "rejected_count": 0.0}, res.JSON(t))
	bea = contactOf("+14155550101")
	require.Equal(t, "Lee, Bea", bea["name"])
	require.Equal(t, []any{"new"}, bea["tags"])
	require.Equal(t, map[string]any{"city": "Goa\nnorth"}, bea["attributes"])

	// Audited once per import, with the counts.
	audit := a.Must(t, 200, "GET", path("/audit-logs?action=contact.imported"), tm.Owner.Token, nil)["data"].([]any)
	require.Len(t, audit, 2)
	first := audit[1].(map[string]any)
	require.Equal(t, tm.Manager.ID, first["actor_id"])
	require.Equal(t, "contact", first["resource_type"])
	require.Equal(t, map[string]any{"accepted": 5.0, "created": 3.0, "updated": 1.0, "unchanged": 0.0, "duplicates": 1.0, "rejected": 1.0},
		first["details"])
	require.Len(t, a.Must(t, 200, "GET", path("/audit-logs?action=contact.created"), tm.Owner.Token, nil)["data"], 2,
		"the API's contacts only: an import's are in its own entry")

	// Refusals of the whole file.
	for _, role := range []user{tm.Agent, tm.Viewer} {
		res := importCSV(role.Token, "phone\n+14155550199\n")
		require.Equal(t, 403, res.Status)
		require.Equal(t, "forbidden", res.Code(t))
	}
	for name, res := range map[string]Response{
		"no phone column": importCSV(tm.Owner.Token, "name\nAnn\n"),
		"an empty body":   importCSV(tm.Owner.Token, ""),
		"JSON":            a.Do(t, "POST", path("/contacts/import"), tm.Owner.Token, map[string]string{"phone": "+14155550199"}),
		"another charset": a.Do(t, "POST", path("/contacts/import"), tm.Owner.Token, "phone\n+14155550199\n", "Content-Type", "text/csv; charset=latin1"),
		"an unclosed quote": importCSV(tm.Owner.Token, "phone,name\n+14155550199,\"Ann\n"+
			strings.Repeat("+14155550198,Bob\n", 5000)),
	} {
		require.Equal(t, 422, res.Status, "%s: %s", name, res.Body)
		require.Equal(t, "validation_failed", res.Code(t), name)
	}
	require.Len(t, a.Must(t, 200, "GET", path("/audit-logs?action=contact.imported"), tm.Owner.Token, nil)["data"], 2,
		"a refused file leaves no entry")
	require.Empty(t, a.Must(t, 200, "GET", path("/contacts?phone=14155550199"), tm.Owner.Token, nil)["data"], "nor any contact")

	// A body that breaks off (here, a malformed chunk) is the client's error, not ours.
	conn, err := net.Dial("tcp", strings.TrimPrefix(a.URL, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: waba\r\nAuthorization: Bearer %s\r\nContent-Type: text/csv\r\n"+
		"Transfer-Encoding: chunked\r\n\r\n13\r\nphone\n+14155550198\n\r\nzz\r\n", path("/contacts/import"), tm.Owner.Token)
	require.NoError(t, err)
	broken, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	broken.Body.Close()
	require.Equal(t, 400, broken.StatusCode)
	require.Empty(t, a.Must(t, 200, "GET", path("/contacts?phone=14155550198"), tm.Owner.Token, nil)["data"])

	// Past the cap: declared, or found while reading a chunked body.
	over := int64(httpapi.MaxImportBytes + 1)
	for name, length := range map[string]int64{"declared": over, "chunked": -1} {
		const header = "phone,\n"
		body := io.MultiReader(strings.NewReader(header), &filler{left: over - int64(len(header))})
		req, err := http.NewRequest("POST", a.URL+path("/contacts/import"), body)
		require.NoError(t, err)
		req.ContentLength = length
		req.Header.Set("Authorization", "Bearer "+tm.Owner.Token)
		req.Header.Set("Content-Type", "text/csv")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err, name)
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, 413, res.StatusCode, "%s: %s", name, raw)
		require.Contains(t, string(raw), `"code":"payload_too_large"`)
	}
}

// filler is a CSV body of rows without a phone (refused at once), left bytes long.
type filler struct{ left int64 }

func (f *filler) Read(p []byte) (int, error) {
	if f.left <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), f.left)
	for i := range p[:n] {
		p[i] = 'x'
		if (f.left-int64(i))%(32<<10) == 0 {
			p[i] = '\n'
		}
	}
	f.left -= n
	return int(n), nil
}
