package test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta/sandbox"
	"github.com/wabaplatform/waba/adapters/riveradapter"
	"github.com/wabaplatform/waba/domain"
)

// inboundID waits for the webhook of the inbound message wamid to be stored and returns
// our id of it.
func (e *msgEnv) inboundID(t *testing.T, wamid string) domain.ID {
	t.Helper()
	var id string
	eventually(t, 20*time.Second, func() bool {
		err := e.a.Pool.QueryRow(context.Background(), `SELECT id::text FROM messages
			WHERE workspace_id = $1 AND wamid = $2 AND direction = 'inbound'`, e.tm.WS, wamid).Scan(&id)
		return err == nil
	}, "the inbound message should be stored")
	mid, err := domain.ParseID(id)
	require.NoError(t, err)
	return mid
}

// TestReadReceiptJob: the read-receipt job, inserted in a transaction as marking a
// conversation read does, sends Meta (the sandbox) a receipt for the inbound message; an id
// Meta does not know ends the job without retries.
func TestReadReceiptJob(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t)
	ctx := context.Background()
	ws, err := domain.ParseID(e.tm.WS)
	require.NoError(t, err)
	phone := nextPhone()

	wamid, err := e.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: e.acct.PhoneNumberID, From: phone, Text: "Is my order shipped?"})
	require.NoError(t, err)
	id := e.inboundID(t, wamid)

	tx, err := e.a.Pool.Begin(ctx)
	require.NoError(t, err)
	_, err = e.a.River.InsertTx(ctx, tx, riveradapter.ReadReceiptArgs{WorkspaceID: ws, MessageID: id}, nil)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	eventually(t, 20*time.Second, func() bool {
		got := e.sb.ReadReceipts(e.acct.PhoneNumberID)
		return len(got) == 1 && got[0] == wamid
	}, "the sandbox should record the read receipt")
	var got struct {
		Data []sandbox.ReadReceipt `json:"data"`
	}
	resp, err := http.Get(e.sbURL + "/_sandbox/read-receipts?phone_number_id=" + e.acct.PhoneNumberID)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	require.NoError(t, resp.Body.Close())
	require.Len(t, got.Data, 1)
	require.Equal(t, wamid, got.Data[0].MessageID)

	// A wamid the number never received: Meta refuses it (131009) and the job is cancelled
	// at its first attempt.
	other, err := e.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: e.acct.PhoneNumberID, From: phone, Text: "Hello?"})
	require.NoError(t, err)
	otherID := e.inboundID(t, other)
	_, err = e.a.Pool.Exec(ctx, `UPDATE messages SET wamid = 'wamid.never-received' WHERE id = $1`, otherID.String())
	require.NoError(t, err)
	res, err := e.a.River.Insert(ctx, riveradapter.ReadReceiptArgs{WorkspaceID: ws, MessageID: otherID}, nil)
	require.NoError(t, err)
	var state string
	var attempt int
	eventually(t, 20*time.Second, func() bool {
		require.NoError(t, e.a.Pool.QueryRow(ctx, `SELECT state::text, attempt FROM river_job WHERE id = $1`, res.Job.ID).Scan(&state, &attempt))
		return state == "cancelled"
	}, "a refused receipt should end its job")
	require.Equal(t, 1, attempt)
	require.Equal(t, []string{wamid}, e.sb.ReadReceipts(e.acct.PhoneNumberID))

	// A message that no longer exists (its contact erased) ends the job too.
	res, err = e.a.River.Insert(ctx, riveradapter.ReadReceiptArgs{WorkspaceID: ws, MessageID: domain.NewID()}, nil)
	require.NoError(t, err)
	eventually(t, 20*time.Second, func() bool {
		require.NoError(t, e.a.Pool.QueryRow(ctx, `SELECT state::text, attempt FROM river_job WHERE id = $1`, res.Job.ID).Scan(&state, &attempt))
		return state == "completed"
	}, "a receipt for a message that is gone should complete")
	require.Equal(t, 1, attempt)
}

// Marking a conversation read through the inbox API sends Meta the read receipt of its
// last inbound message.
func TestMarkingAConversationReadSendsTheReceipt(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t)
	phone := nextPhone()
	first, err := e.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: e.acct.PhoneNumberID, From: phone, Text: "Hello"})
	require.NoError(t, err)
	e.inboundID(t, first)
	last, err := e.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: e.acct.PhoneNumberID, From: phone, Text: "Anyone there?"})
	require.NoError(t, err)
	e.inboundID(t, last)

	list := e.a.Must(t, 200, "GET", wsPath(e.tm, "/conversations?view=all"), e.tm.Owner.Token, nil)["data"].([]any)
	require.Len(t, list, 1)
	conv := list[0].(map[string]any)
	require.EqualValues(t, 2, conv["unread_count"])
	read := e.a.Must(t, 200, "POST", wsPath(e.tm, "/conversations/"+conv["id"].(string)+"/read"), e.tm.Owner.Token, nil)
	require.EqualValues(t, 0, read["unread_count"])
	eventually(t, 20*time.Second, func() bool {
		got := e.sb.ReadReceipts(e.acct.PhoneNumberID)
		return len(got) == 1 && got[0] == last
	}, "Meta should get the read receipt of the last inbound message")
}
