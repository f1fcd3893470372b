package test

import (
	"encoding/csv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/domain"
)

// readCSV parses an export: its header and its records as maps by column.
func readCSV(t *testing.T, res Response) []map[string]string {
	t.Helper()
	require.Equal(t, 200, res.Status, "%s", res.Body)
	require.Equal(t, "text/csv; charset=utf-8", res.Header.Get("Content-Type"))
	require.True(t, strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment; filename="))
	recs, err := csv.NewReader(strings.NewReader(string(res.Body))).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	var out []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, col := range recs[0] {
			row[col] = rec[i]
		}
		out = append(out, row)
	}
	return out
}

// A campaign without an audience gets its recipients from an uploaded list: contacts are
// created, refused lines come back with their line and reason, the launch sends one
// message per accepted phone, and the exports (recipients, audit log) neutralise cells a
// spreadsheet would run as formulas.
func TestCampaignRecipientsUpload(t *testing.T) {
	t.Parallel()
	e := newCampaignEnv(t)
	a, tm := e.a, e.tm
	c := a.Must(t, 201, "POST", e.path(""), tm.Owner.Token, map[string]any{"name": "Uploaded",
		"phone_number_id": e.acct.PhoneNumberID, "template": welcome()})
	id, missing := c["id"].(string), domain.NewID().String()
	res := a.Do(t, "POST", e.path("/"+id+"/launch"), tm.Owner.Token, nil)
	require.Equal(t, 422, res.Status, "no audience and no recipients: %s", res.Body)
	require.Contains(t, problemFields(t, res), "audience")

	known, knownPhone := e.contact(t, "Kim")
	ana, bo := nextPhone(), nextPhone()
	const formula = `=HYPERLINK("http://evil.example","click")`
	const agent = `=HYPERLINK("http://evil.example","agent")`
	list := "phone,name,city\n" +
		ana + ",Ana,Pune\n" + // 2
		"12,Short,\n" + // 3: refused
		bo + `,"=HYPERLINK(""http://evil.example"",""click"")",` + "\n" + // 4
		knownPhone + ",,\n" + // 5: a known contact
		ana + ",Ana Lee,\n" // 6: the same phone as line 2
	upload := func(token, body string, headers ...string) Response {
		return a.Do(t, "POST", e.path("/"+id+"/recipients"), token, CSV(body), headers...)
	}

	// Who may and what: before the body is looked at.
	require.Equal(t, 403, upload(tm.Viewer.Token, list).Status)
	require.Equal(t, 403, upload(tm.Agent.Token, list).Status)
	require.Equal(t, 404, a.Do(t, "POST", e.path("/"+missing+"/recipients"), tm.Owner.Token, CSV(list)).Status)
	res = a.Do(t, "POST", e.path("/"+id+"/recipients"), tm.Owner.Token, map[string]any{"phone": ana})
	require.Equal(t, 422, res.Status, "JSON is not a list")
	require.Equal(t, "validation_failed", res.Code(t))

	res = upload(tm.Manager.Token, list, "User-Agent", agent)
	require.Equal(t, 200, res.Status, "%s", res.Body)
	require.Equal(t, map[string]any{"accepted": 4.0, "added": 3.0, "created": 2.0, "updated": 0.0, "unchanged": 1.0, "duplicates": 1.0,
		"rejected":       []any{map[string]any{"line": 3.0, "reason": "phone: must be a valid phone number with its country code"}},
		"rejected_count": 1.0}, res.JSON(t))
	require.Equal(t, map[string]int{"recipients": 3, "pending": 3}, stats(e.get(t, id)))
	// Again: nobody new.
	res = upload(tm.Owner.Token, "phone\n"+ana+"\n")
	require.Equal(t, 200, res.Status, "%s", res.Body)
	require.Equal(t, 0.0, res.JSON(t)["added"])

	// The export: every recipient, the formula neutralised.
	rows := readCSV(t, a.Do(t, "GET", e.path("/"+id+"/recipients/export"), tm.Viewer.Token, nil))
	require.Len(t, rows, 3)
	byPhone := map[string]map[string]string{}
	for _, r := range rows {
		require.Equal(t, "pending", r["status"])
		byPhone[r["phone"]] = r
	}
	require.Equal(t, "'"+formula, byPhone[bo]["name"])
	require.Equal(t, "Ana Lee", byPhone[ana]["name"])
	require.Equal(t, known, byPhone[knownPhone]["contact_id"])
	require.Equal(t, 403, a.Do(t, "GET", e.path("/"+id+"/recipients/export"), tm.Agent.Token, nil).Status)
	require.Equal(t, 404, a.Do(t, "GET", e.path("/"+missing+"/recipients/export"), tm.Owner.Token, nil).Status)

	// Launched: one message per accepted phone.
	a.Must(t, 202, "POST", e.path("/"+id+"/launch"), tm.Owner.Token, nil)
	c = e.waitStatus(t, id, "completed")
	require.Equal(t, map[string]int{"recipients": 3, "sent": 3}, stats(c))
	sends := sandboxSends(e.sb, "welcome_named")
	require.Len(t, sends, 3)
	for _, phone := range []string{ana, bo, knownPhone} {
		require.Len(t, sends[strings.TrimPrefix(phone, "+")], 1, phone)
	}
	res = upload(tm.Owner.Token, "phone\n"+nextPhone()+"\n")
	require.Equal(t, 409, res.Status)
	require.Equal(t, "invalid_state", res.Code(t))
	rows = readCSV(t, a.Do(t, "GET", e.path("/"+id+"/recipients/export"), tm.Owner.Token, nil))
	for _, r := range rows {
		require.Equal(t, "sent", r["status"])
		require.NotEmpty(t, r["message_id"])
		require.Equal(t, "1", r["attempts"])
	}

	// One audit entry for the upload, with its counts; its export neutralises the user agent.
	audit := readCSV(t, a.Do(t, "GET", wsPath(tm, "/audit-logs/export?action=campaign.updated&resource_id="+id), tm.Owner.Token, nil))
	require.Len(t, audit, 2, "one entry per upload")
	var uploaded map[string]string
	for _, en := range audit {
		if strings.Contains(en["details"], `"added":3`) {
			uploaded = en
		}
	}
	require.NotNil(t, uploaded, "%v", audit)
	require.Contains(t, uploaded["details"], `"fields":["recipients"]`)
	require.Equal(t, "'"+agent, uploaded["user_agent"])
}
