package test

import (
	"encoding/csv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// usMarketing is the default rate card's example price of a MARKETING template to a US
// number (nextPhone's numbers are +1 415: US).
const usMarketing = 25000

func (e *msgEnv) wallet(t *testing.T) map[string]any {
	t.Helper()
	return e.a.Must(t, 200, "GET", wsPath(e.tm, "/billing"), e.tm.Owner.Token, nil)
}

// waitWallet polls the wallet until its balance and reservation are what Meta's reports
// make them.
func (e *msgEnv) waitWallet(t *testing.T, balance, reserved int64) {
	t.Helper()
	var w map[string]any
	eventually(t, 30*time.Second, func() bool {
		w = e.wallet(t)
		return int64(w["balance_micros"].(float64)) == balance && int64(w["reserved_micros"].(float64)) == reserved
	}, "the wallet should settle")
	require.Equal(t, float64(balance-reserved), w["available_micros"])
}

func TestBillingChargesWhatMetaPricesAndPrepaidNeverOverdraws(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t, withOperator)
	owner := e.tm.Owner.Token
	w := e.wallet(t)
	require.Equal(t, map[string]any{"mode": "postpaid", "currency": "USD", "balance_micros": 0.0, "reserved_micros": 0.0,
		"available_micros": 0.0}, w, "a new workspace is postpaid in the default currency")

	// Postpaid: a template is charged when Meta reports it delivered (the sandbox sends
	// pricing on sent and delivered: one charge), a reply in the window is free.
	r := e.send(t, owner, map[string]any{"to": nextPhone(), "type": "template", "template": template("summer_sale")})
	require.Equal(t, 202, r.Status, "%s", r.Body)
	e.waitWallet(t, -usMarketing, 0)
	_, phone := e.windowContact(t, "")
	r = e.send(t, owner, map[string]any{"to": phone, "type": "text", "text": map[string]string{"body": "thanks!"}})
	require.Equal(t, 202, r.Status, "%s", r.Body)
	e.waitMessage(t, r.JSON(t)["id"].(string), "delivered", func(m map[string]any) bool { return m["status"] == "delivered" || m["status"] == "read" })

	// The operator makes it prepaid and credits exactly three more US marketing messages.
	e.a.Must(t, 200, "PUT", "/admin/workspaces/"+e.tm.WS+"/billing", operatorToken, map[string]string{"mode": "prepaid"})
	credit := e.a.Must(t, 201, "POST", "/admin/workspaces/"+e.tm.WS+"/credits", operatorToken,
		map[string]any{"amount_micros": 4 * usMarketing, "reference": "invoice 7"})
	require.Equal(t, "credit", credit["kind"])
	require.Equal(t, float64(3*usMarketing), credit["balance_after_micros"])
	require.Equal(t, 401, e.a.Do(t, "POST", "/admin/workspaces/"+e.tm.WS+"/credits", owner, map[string]any{"amount_micros": 1}).Status,
		"credits are the operator's, not a member's")

	// Eight sends race for the last three messages' worth: three are accepted, five are
	// refused with 402, and nothing is overdrawn.
	codes := make([]int, 8)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.a.Send("POST", wsPath(e.tm, "/messages"), owner, map[string]any{"to": nextPhone(), "type": "template",
				"template": template("summer_sale")})
			if err == nil {
				codes[i] = res.Status
				if res.Status == 402 {
					require.Equal(t, "insufficient_balance", res.JSON(t)["code"])
				}
			}
		}()
	}
	wg.Wait()
	accepted, refused := 0, 0
	for _, c := range codes {
		switch c {
		case 202:
			accepted++
		case 402:
			refused++
		}
	}
	require.Equal(t, []int{3, 5}, []int{accepted, refused}, "codes %v", codes)
	e.waitWallet(t, 0, 0) // the three delivered, charged, their holds settled: exactly 0

	// A template Meta refuses fails: its hold is released and nothing is charged.
	e.a.Must(t, 201, "POST", "/admin/workspaces/"+e.tm.WS+"/credits", operatorToken, map[string]any{"amount_micros": 10000})
	r = e.send(t, owner, map[string]any{"to": nextPhone(), "type": "template", "template": template("no_such_template")})
	require.Equal(t, 202, r.Status, "%s", r.Body)
	e.waitMessage(t, r.JSON(t)["id"].(string), "failed", func(m map[string]any) bool { return m["status"] == "failed" })
	e.waitWallet(t, 10000, 0)

	// Usage: four marketing messages charged, the free reply recorded at 0.
	usage := e.a.Must(t, 200, "GET", wsPath(e.tm, "/billing/usage?group_by=category"), owner, nil)
	require.Equal(t, float64(4*usMarketing), usage["total_micros"])
	rows := map[string]map[string]any{}
	for _, d := range usage["data"].([]any) {
		rows[d.(map[string]any)["key"].(string)] = d.(map[string]any)
	}
	require.Equal(t, map[string]any{"key": "marketing", "messages": 4.0, "billable": 4.0, "amount_micros": float64(4 * usMarketing)}, rows["marketing"])
	require.Equal(t, 0.0, rows["service"]["amount_micros"])
	byMarket := e.a.Must(t, 200, "GET", wsPath(e.tm, "/billing/usage?group_by=market"), owner, nil)
	require.Equal(t, "US", byMarket["data"].([]any)[0].(map[string]any)["key"])

	export := e.a.Do(t, "GET", wsPath(e.tm, "/billing/usage/export"), owner, nil)
	require.Equal(t, 200, export.Status, "%s", export.Body)
	records, err := csv.NewReader(strings.NewReader(string(export.Body))).ReadAll()
	require.NoError(t, err)
	require.Len(t, records, 1+5, "a header and one row per priced message")

	txs := e.a.Must(t, 200, "GET", wsPath(e.tm, "/billing/transactions"), owner, nil)["data"].([]any)
	kinds := map[string]int{}
	for _, tx := range txs {
		kinds[tx.(map[string]any)["kind"].(string)]++
	}
	require.Equal(t, map[string]int{"credit": 2, "charge": 4}, kinds, "free messages are usage, not transactions")
	require.Equal(t, 10000.0, txs[0].(map[string]any)["balance_after_micros"], "newest first")

	// Estimates before sending: a category to phones, a template to an audience.
	est := e.a.Must(t, 200, "POST", wsPath(e.tm, "/billing/estimate"), owner, map[string]any{"category": "marketing",
		"recipients": []string{"+14155550100", "+919812345678", "+919812345679"}})
	require.Equal(t, float64(usMarketing+2*10700), est["amount_micros"])
	require.Equal(t, []any{map[string]any{"market": "US", "messages": 1.0, "amount_micros": float64(usMarketing)},
		map[string]any{"market": "IN", "messages": 2.0, "amount_micros": 21400.0}}, est["by_market"])
	est = e.a.Must(t, 200, "POST", wsPath(e.tm, "/billing/estimate"), owner, map[string]any{
		"template": map[string]string{"name": "order_update", "language": "en_US"}, "audience": map[string]any{"all": true}})
	require.Positive(t, est["amount_micros"])
	require.Equal(t, 422, e.a.Do(t, "POST", wsPath(e.tm, "/billing/estimate"), owner, map[string]any{"category": "marketing",
		"recipients": []string{"not a phone"}}).Status)

	// Members read billing by their permission; audit records the operator's actions.
	require.Equal(t, 403, e.a.Do(t, "GET", wsPath(e.tm, "/billing"), e.tm.Agent.Token, nil).Status)
	actions := map[string]bool{}
	for _, a := range e.a.Must(t, 200, "GET", wsPath(e.tm, "/audit-logs?limit=200"), owner, nil)["data"].([]any) {
		actions[a.(map[string]any)["action"].(string)] = true
	}
	require.True(t, actions["billing.credited"] && actions["billing.mode_changed"], "%v", actions)
}

func TestRateCardIsVersioned(t *testing.T) {
	t.Parallel()
	a := startApp(t, withOperator)
	r := a.Do(t, "GET", "/admin/rate-card", operatorToken, nil)
	require.Equal(t, 200, r.Status)
	require.Contains(t, string(r.Body), "market,category,currency,rate_micros\n")
	require.Contains(t, string(r.Body), "US,marketing,USD,25000\n", "the default card's example values")

	bad := a.Do(t, "PUT", "/admin/rate-card", operatorToken, CSV("market,category,currency,rate_micros\nUSA,marketing,USD,1\n"))
	require.Equal(t, 422, bad.Status, "%s", bad.Body)
	require.Equal(t, "line 2", bad.JSON(t)["errors"].([]any)[0].(map[string]any)["field"])

	card := "market,category,currency,rate_micros\nUS,marketing,USD,30000\n*,marketing,USD,60000\n"
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	put := a.Do(t, "PUT", "/admin/rate-card?effective_at="+later, operatorToken, CSV(card))
	require.Equal(t, 200, put.Status, "%s", put.Body)
	require.Contains(t, string(a.Do(t, "GET", "/admin/rate-card", operatorToken, nil).Body), "US,marketing,USD,25000\n",
		"a card takes over only from its effective time")
	require.Equal(t, 200, a.Do(t, "PUT", "/admin/rate-card", operatorToken, CSV(card)).Status)
	require.Contains(t, string(a.Do(t, "GET", "/admin/rate-card", operatorToken, nil).Body), "US,marketing,USD,30000\n")
	require.Equal(t, 401, a.Do(t, "GET", "/admin/rate-card", "", nil).Status)
}

func TestPrepaidCampaignIsPricedBeforeItStarts(t *testing.T) {
	t.Parallel()
	e := newCampaignEnv(t, withOperator)
	for range 5 {
		e.contact(t, "Kim", "vip") // US numbers: 5 marketing messages, 125,000 micros
	}
	e.a.Must(t, 200, "PUT", "/admin/workspaces/"+e.tm.WS+"/billing", operatorToken, map[string]string{"mode": "prepaid"})
	e.a.Must(t, 201, "POST", "/admin/workspaces/"+e.tm.WS+"/credits", operatorToken, map[string]any{"amount_micros": 4 * usMarketing})
	c := e.a.Must(t, 201, "POST", e.path(""), e.tm.Owner.Token, map[string]any{"name": "VIP", "phone_number_id": e.acct.PhoneNumberID,
		"template": welcome(), "audience": map[string]any{"tags": []string{"vip"}}})
	id := c["id"].(string)
	require.Nil(t, c["estimated_cost"], "not priced before it starts")

	r := e.a.Do(t, "POST", e.path("/"+id+"/launch"), e.tm.Owner.Token, nil)
	require.Equal(t, 402, r.Status, "%s", r.Body)
	require.Equal(t, "insufficient_balance", r.JSON(t)["code"])
	require.Equal(t, "draft", e.get(t, id)["status"], "nothing started")

	e.a.Must(t, 201, "POST", "/admin/workspaces/"+e.tm.WS+"/credits", operatorToken, map[string]any{"amount_micros": usMarketing})
	launched := e.a.Must(t, 202, "POST", e.path("/"+id+"/launch"), e.tm.Owner.Token, nil)
	require.Equal(t, map[string]any{"currency": "USD", "amount_micros": float64(5 * usMarketing)}, launched["estimated_cost"])
	e.waitStatus(t, id, "completed")
	// Every batch held its price; this sandbox sends no delivery reports, so nothing is
	// charged yet and all of it stays held (the first test shows reports settling holds).
	e.waitWallet(t, 5*usMarketing, 5*usMarketing)
}
