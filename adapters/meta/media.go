package meta

import (
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

// UploadTimeout bounds an upload, its body streamed included (100 MB on a slow link), in
// place of the client's Timeout when that is shorter.
const UploadTimeout = 10 * time.Minute

// UploadMedia uploads a file for sending (POST /{phone-number-id}/media, multipart) and
// returns its media id (valid 30 days). The reader is streamed, not buffered.
func (c *Client) UploadMedia(ctx context.Context, token, phoneNumberID, mimeType, filename string, r io.Reader) (string, error) {
	const op = "upload media"
	if filename == "" {
		filename = "file"
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(writeUpload(mw, mimeType, filename, r))
	}()
	var out struct {
		ID string `json:"id"`
	}
	err := c.doWithin(ctx, max(c.timeout, UploadTimeout), request{
		op: op, method: http.MethodPost, url: c.endpoint(nil, phoneNumberID, "media"), token: token,
		body: pr, contentType: mw.FormDataContentType(),
	}, &out)
	// If the request ended before the body was consumed, unblock the writer, and wait for
	// it so r is not read after we return.
	pr.CloseWithError(io.ErrClosedPipe)
	<-done
	if err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", fmt.Errorf("meta: %s: %w: no media id", op, ErrUnexpectedResponse)
	}
	return out.ID, nil
}

func writeUpload(mw *multipart.Writer, mimeType, filename string, r io.Reader) error {
	if err := mw.WriteField("messaging_product", "whatsapp"); err != nil {
		return err
	}
	if err := mw.WriteField("type", mimeType); err != nil {
		return err
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, escapeQuotes(filename)))
	h.Set("Content-Type", mimeType)
	part, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(part, r); err != nil {
		return err
	}
	return mw.Close()
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "", "\n", "")

func escapeQuotes(s string) string { return quoteEscaper.Replace(s) }

// Media is the metadata of an uploaded or received media object (GET /{media-id}). URL is
// valid for about five minutes and must be fetched with DownloadMedia (it needs the token).
type Media struct {
	ID       string `json:"id"`
	URL      string `json:"url"`
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	FileSize int64  `json:"-"`
}

// GetMedia reads a media object's metadata, including its short-lived download URL.
func (c *Client) GetMedia(ctx context.Context, token, mediaID string) (Media, error) {
	var out struct {
		Media
		FileSize flexInt `json:"file_size"`
	}
	if err := c.getJSON(ctx, "get media", token, c.endpoint(nil, mediaID), &out); err != nil {
		return Media{}, err
	}
	m := out.Media
	m.FileSize = int64(out.FileSize)
	if m.ID == "" {
		m.ID = mediaID
	}
	return m, nil
}

// DownloadMedia fetches a URL from GetMedia with the bearer token and returns the body; the
// caller must close it. To keep the token from leaking, the URL must be https, or on the
// same scheme and host as the configured BaseURL (the sandbox). The client's Timeout bounds
// the wait for response headers; the body streams under ctx.
func (c *Client) DownloadMedia(ctx context.Context, token, rawURL string) (io.ReadCloser, error) {
	const op = "download media"
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("meta: %s: %w: not an absolute URL", op, ErrInvalidRequest)
	}
	if u.Scheme != "https" && u.Scheme+"://"+u.Host != c.baseHost {
		return nil, fmt.Errorf("meta: %s: %w: refusing to send the token to %s://%s", op, ErrInvalidRequest, u.Scheme, u.Host)
	}
	ctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(c.timeout, cancel)
	resp, err := c.send(ctx, request{op: op, method: http.MethodGet, url: rawURL, token: token})
	stopped := timer.Stop()
	if err != nil {
		cancel()
		return nil, err
	}
	if !stopped { // the header timeout fired as the response arrived
		resp.Body.Close()
		cancel()
		return nil, &transportError{msg: "meta: " + op + ": timed out waiting for response headers", err: context.DeadlineExceeded}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer cancel()
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, wrapf(op, scrubError(parseError(resp.StatusCode, resp.Header, body), nil, token))
	}
	return &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}, nil
}

// cancelOnClose releases the download's context when the body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
