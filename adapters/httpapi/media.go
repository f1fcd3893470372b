package httpapi

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wabaplatform/waba/application/media"
	"github.com/wabaplatform/waba/domain"
)

const (
	// MediaUploadPath (POST) and MediaContentPath (GET) stream files: they skip the global
	// body limit and request timeout for their own (mediaRoute).
	MediaUploadPath  = "/v1/workspaces/:ws/media"
	MediaContentPath = "/v1/workspaces/:ws/media/:id/content"
	// MaxMediaUploadBytes caps an upload's whole body: the largest file (a 100 MB
	// document) and the multipart framing around it. The type's own limit is enforced
	// while the file is read, long before this for anything but a document.
	MaxMediaUploadBytes = domain.MaxMediaBytes + 1<<20
	// mediaTimeout replaces requestTimeout for an upload or a download.
	mediaTimeout = 10 * time.Minute
)

// mediaRoute reports whether c is a media upload or download, which reads or writes its
// body under bounds of its own.
func mediaRoute(c echo.Context) bool {
	return (c.Request().Method == http.MethodPost && c.Path() == MediaUploadPath) ||
		(c.Request().Method == http.MethodGet && c.Path() == MediaContentPath)
}

// Media serves the media routes.
type Media struct {
	API   *API
	Media *media.Service
}

// Register adds the routes to e.
func (h *Media) Register(e *echo.Echo) {
	e.POST(MediaUploadPath, h.upload, h.API.member)
	e.GET(MediaContentPath, h.content, h.API.member)
}

type mediaDTO struct {
	ID        domain.ID `json:"id"`
	MediaID   string    `json:"media_id"`
	MimeType  string    `json:"mime_type"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	Filename  string    `json:"filename,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// upload streams the multipart body's file part into the upload use case. The
// phone_number_id part (or query parameter) must come before the file: the file is never
// buffered, so what follows it is not read. 403 before anything of the body is read; 413
// past the type's limit (read no further) or MaxMediaUploadBytes (declared or read); 422
// for a body that is not multipart with a file, or a file WhatsApp does not take.
func (h *Media) upload(c echo.Context) error {
	cl := caller(c)
	if err := h.Media.UploadAllowed(cl); err != nil {
		return err
	}
	req := c.Request()
	if req.ContentLength > MaxMediaUploadBytes {
		return domain.Errorf(kindPayloadTooLarge, "the body exceeds %d bytes", MaxMediaUploadBytes)
	}
	// The server's own writer: MaxBytesReader tells it to close the connection once over.
	req.Body = http.MaxBytesReader(c.Response().Writer, req.Body, MaxMediaUploadBytes)
	mr, err := req.MultipartReader()
	if err != nil {
		return multipartError("the body must be multipart/form-data with a file part")
	}
	ctx, cancel := context.WithTimeout(req.Context(), mediaTimeout)
	defer cancel()
	phoneNumberID := c.QueryParam("phone_number_id")
	for {
		part, err := mr.NextPart()
		var tooLarge *http.MaxBytesError
		switch {
		case errors.Is(err, io.EOF):
			return multipartError("the body has no file part")
		case errors.As(err, &tooLarge):
			return domain.Errorf(kindPayloadTooLarge, "the body exceeds %d bytes", MaxMediaUploadBytes)
		case err != nil:
			return echo.NewHTTPError(http.StatusBadRequest, "the multipart body could not be read").SetInternal(err)
		}
		switch part.FormName() {
		case "phone_number_id":
			v, err := io.ReadAll(io.LimitReader(part, 65))
			if err != nil || len(v) > 64 {
				return &domain.Error{Kind: domain.KindValidation, Message: "invalid phone_number_id",
					Fields: []domain.FieldError{{Field: "phone_number_id", Message: "must be Meta's id of a number"}}}
			}
			phoneNumberID = strings.TrimSpace(string(v))
		case "file":
			m, err := h.Media.Upload(ctx, cl, media.UploadInput{PhoneNumberID: phoneNumberID, Filename: part.FileName(), Body: part})
			if err != nil {
				return uploadError(err, ctx)
			}
			return c.JSON(http.StatusCreated, mediaDTO{ID: m.ID, MediaID: m.MetaMediaID, MimeType: m.MimeType, Size: m.Size,
				SHA256: m.SHA256, Filename: m.Filename, CreatedAt: m.CreatedAt.UTC()})
		}
		// Other parts are skipped: NextPart reads past them, under the body's cap.
	}
}

func multipartError(msg string) error {
	return &domain.Error{Kind: domain.KindValidation, Message: msg,
		Fields: []domain.FieldError{{Field: "file", Message: "is required"}}}
}

// uploadError maps what stopped an upload to the client's answer.
func uploadError(err error, ctx context.Context) error {
	var tooLarge *media.TooLargeError
	var bodyTooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return domain.Errorf(kindPayloadTooLarge, "%s", tooLarge.Error())
	case errors.As(err, &bodyTooLarge):
		return domain.Errorf(kindPayloadTooLarge, "the body exceeds %d bytes", MaxMediaUploadBytes)
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return domain.Errorf(domain.KindUnavailable, "the upload did not finish within 10 minutes")
	case errors.Is(err, media.ErrBodyRead):
		return echo.NewHTTPError(http.StatusBadRequest, "the body could not be read").SetInternal(err)
	}
	return err
}

// content streams a stored file with its type. The type is the one sniffed at upload (or
// Meta's, for a received file), never sniffed again by the browser (nosniff), and a
// document is an attachment: a file is never rendered as a page of this origin.
func (h *Media) content(c echo.Context) error {
	id, err := pathID(c, "id", "media")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), mediaTimeout)
	defer cancel()
	m, rc, err := h.Media.Open(ctx, caller(c), id)
	if err != nil {
		return err
	}
	defer rc.Close()
	hd := c.Response().Header()
	hd.Set(echo.HeaderContentType, m.MimeType)
	hd.Set(echo.HeaderContentLength, strconv.FormatInt(m.Size, 10))
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	hd.Set("Cache-Control", "private, max-age=0")
	disposition := "inline"
	if domain.MediaKind(m.MimeType) != domain.MediaImage && domain.MediaKind(m.MimeType) != domain.MediaSticker {
		disposition = "attachment"
	}
	params := map[string]string{}
	if m.Filename != "" {
		params["filename"] = m.Filename
	}
	if v := mime.FormatMediaType(disposition, params); v != "" {
		hd.Set(echo.HeaderContentDisposition, v)
	} else {
		hd.Set(echo.HeaderContentDisposition, disposition)
	}
	c.Response().WriteHeader(http.StatusOK)
	if c.Request().Method == http.MethodHead {
		return nil
	}
	_, err = io.Copy(c.Response(), rc)
	return err
}
