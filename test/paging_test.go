package test

import (
	"fmt"
	"net/url"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// walkOneByOne pages through a list with limit=1 and returns the items in order. Every page
// but the last holds one item and a next_cursor; the last holds one item and next_cursor null.
func walkOneByOne(t *testing.T, a *App, path, token string, want int) []map[string]any {
	t.Helper()
	var items []map[string]any
	cursor := ""
	for page := 1; ; page++ {
		require.LessOrEqual(t, page, want, "%s: more pages than items", path)
		q := "?limit=1"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		raw := a.Do(t, "GET", path+q, token, nil)
		require.Equal(t, 200, raw.Status, "%s%s: %s", path, q, raw.Body)
		body := raw.JSON(t)
		require.Contains(t, body, "next_cursor", "next_cursor is always present")
		data := body["data"].([]any)
		require.Len(t, data, 1, "%s page %d", path, page)
		items = append(items, data[0].(map[string]any))
		if page == want {
			require.Nil(t, body["next_cursor"], "%s: the last page has next_cursor null", path)
			return items
		}
		next, ok := body["next_cursor"].(string)
		require.True(t, ok && next != "", "%s page %d of %d: next_cursor should be set, got %v", path, page, want, body["next_cursor"])
		cursor = next
	}
}

// field collects one string field of every item.
func field(items []map[string]any, name string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it[name].(string)
	}
	return out
}

// requireBadPaging checks that a malformed cursor or an out-of-range limit is a 422
// validation problem naming the parameter.
func requireBadPaging(t *testing.T, a *App, path, token string) {
	t.Helper()
	for _, c := range []struct{ query, field string }{
		{"cursor=not-a-cursor", "cursor"},
		{"cursor=bm90LWEtdXVpZA", "cursor"}, // base64url of "not-a-uuid"
		{"limit=0", "limit"},
		{"limit=201", "limit"},
		{"limit=ten", "limit"},
	} {
		q, fieldName := c.query, c.field
		res := a.Do(t, "GET", path+"?"+q, token, nil)
		require.Equal(t, 422, res.Status, "%s?%s: %s", path, q, res.Body)
		require.Equal(t, "validation_failed", res.Code(t), "%s?%s", path, q)
		require.Contains(t, string(res.Body), fmt.Sprintf(`"field":%q`, fieldName), "%s?%s", path, q)
	}
}

// requireOnePage checks that without limit or cursor the whole (short) list is one page.
func requireOnePage(t *testing.T, a *App, path, token string, want []string, key string) {
	t.Helper()
	body := a.Must(t, 200, "GET", path, token, nil)
	require.Nil(t, body["next_cursor"], path)
	var items []map[string]any
	for _, d := range body["data"].([]any) {
		items = append(items, d.(map[string]any))
	}
	require.Equal(t, want, field(items, key), "%s: the default page holds them all, in the same order", path)
}

func TestMembersListPages(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	tm := newTeam(t, a)
	extra := a.addMember(t, tm.WS, tm.Owner, "agent")
	path := wsPath(tm, "/members")

	items := walkOneByOne(t, a, path, tm.Manager.Token, 5)
	ids := field(items, "user_id")
	require.ElementsMatch(t, []string{tm.Owner.ID, tm.Manager.ID, tm.Agent.ID, tm.Viewer.ID, extra.ID}, ids, "every member once, none of another workspace")
	require.True(t, slices.IsSorted(ids), "by user id: %v", ids)
	require.Equal(t, tm.Owner.ID, ids[0], "user ids follow sign-up order, and the owner signed up first")
	requireOnePage(t, a, path, tm.Manager.Token, ids, "user_id")

	// A cursor stays valid after its member left.
	first := a.Must(t, 200, "GET", path+"?limit=2", tm.Owner.Token, nil)
	cursor := first["next_cursor"].(string)
	a.Must(t, 204, "DELETE", wsPath(tm, "/members/"+ids[1]), tm.Owner.Token, nil)
	rest := a.Must(t, 200, "GET", path+"?limit=50&cursor="+url.QueryEscape(cursor), tm.Owner.Token, nil)
	require.Len(t, rest["data"], 3)
	require.Equal(t, ids[2], rest["data"].([]any)[0].(map[string]any)["user_id"])
	require.Nil(t, rest["next_cursor"])

	requireBadPaging(t, a, path, tm.Owner.Token)
}

func TestAPIKeysListPages(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	tm := newTeam(t, a)
	var created []string
	for i := range 4 {
		k := a.Must(t, 201, "POST", wsPath(tm, "/api-keys"), tm.Owner.Token, map[string]string{"name": fmt.Sprint("key", i), "role": "viewer"})
		created = append(created, k["id"].(string))
	}
	revoked := a.Must(t, 201, "POST", wsPath(tm, "/api-keys"), tm.Owner.Token, map[string]string{"name": "gone", "role": "viewer"})["id"].(string)
	a.Must(t, 204, "DELETE", wsPath(tm, "/api-keys/"+revoked), tm.Owner.Token, nil)
	a.Must(t, 201, "POST", "/v1/workspaces/"+tm.OtherWS+"/api-keys", tm.Outside.Token, map[string]string{"name": "other", "role": "viewer"})
	path := wsPath(tm, "/api-keys")

	items := walkOneByOne(t, a, path, tm.Manager.Token, 4)
	ids := field(items, "id")
	newestFirst := slices.Clone(created)
	slices.Reverse(newestFirst)
	require.Equal(t, newestFirst, ids, "active keys of this workspace, newest first, each once")
	for _, it := range items {
		require.NotContains(t, it, "key", "a list never shows the secret")
	}
	requireOnePage(t, a, path, tm.Manager.Token, ids, "id")
	requireBadPaging(t, a, path, tm.Owner.Token)
}

func TestPhoneNumbersListPages(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	tm := newTeam(t, a)
	var created []string
	for i := range 3 {
		created = append(created, connectNumber(t, a, tm.WS, fmt.Sprint(5100+i), "5200", fmt.Sprintf("+1 555-010-%04d", i)))
	}
	connectNumber(t, a, tm.OtherWS, "5199", "5201", "+1 555-010-9999")
	path := wsPath(tm, "/whatsapp/phone-numbers")

	items := walkOneByOne(t, a, path, tm.Viewer.Token, 3)
	ids := field(items, "id")
	require.Equal(t, created, ids, "this workspace's numbers, oldest first, each once")
	for _, it := range items {
		require.NotContains(t, it, "token_ciphertext")
	}
	requireOnePage(t, a, path, tm.Viewer.Token, ids, "id")
	requireBadPaging(t, a, path, tm.Owner.Token)
}
