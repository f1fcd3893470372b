// Package media holds the media files of a workspace: uploads to send (streamed to the
// media store and to Meta at once, their type judged from their bytes, their size capped
// while reading), the download of what customers send (a job per file, started in the
// transaction that stores the message, because Meta's URLs expire within minutes), reading
// a file back under the visibility of its message, and the Meta id a send needs.
//
// Visibility: a file that came with an inbound message is seen by whoever may see the
// message: an agent only the files of the contacts assigned to them (404 otherwise, as for
// the message). An uploaded file belongs to no contact: whoever may upload (and so send)
// may read it.
package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/wabaplatform/waba/application/authz"
	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/messaging"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// TooLargeError is a file past WhatsApp's limit for its type, found while reading it: no
// more than Limit+1 bytes were read.
type TooLargeError struct {
	MimeType string
	Limit    int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("a %s file may be at most %d bytes", e.MimeType, e.Limit)
}

// ErrBodyRead wraps a failure to read the client's upload (the client broke off).
var ErrBodyRead = errors.New("media: the upload could not be read")

// Service is the media use cases.
type Service struct {
	repo     Repo
	store    Store
	graph    Graph
	numbers  Numbers
	vault    Vault
	contacts Contacts
	authz    authz.Authorizer
	log      *slog.Logger
	now      func() time.Time
}

// Deps are the ports of the media use cases.
type Deps struct {
	Repo     Repo
	Store    Store
	Graph    Graph
	Numbers  Numbers
	Vault    Vault
	Contacts Contacts
	Authz    authz.Authorizer
	Log      *slog.Logger
	Now      domain.Clock // nil is time.Now
}

// NewService returns the use cases.
func NewService(d Deps) *Service {
	now := d.Now
	if now == nil {
		now = time.Now
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{repo: d.Repo, store: d.Store, graph: d.Graph, numbers: d.Numbers, vault: d.Vault,
		contacts: d.Contacts, authz: d.Authz, log: log, now: now}
}

// UploadInput is one upload: the file's bytes as they arrive, and the client's name for it
// (kept for display only, sanitized; it never decides the type or the key).
type UploadInput struct {
	PhoneNumberID string // "" for the workspace's first connected number
	Filename      string
	Body          io.Reader
}

// UploadAllowed is the permission check of Upload alone, for a transport that wants to
// refuse before reading a body.
func (s *Service) UploadAllowed(c domain.Caller) error {
	return authz.Require(s.authz, c, access.MediaUpload)
}

// Upload stores a file to send. The type is sniffed from the first bytes (422 for one
// WhatsApp does not take); the bytes then stream at once to the media store and to Meta's
// upload while being hashed, and reading stops at the type's limit plus one byte
// (*TooLargeError). Only a file both stores accepted gets a row.
func (s *Service) Upload(ctx context.Context, c domain.Caller, in UploadInput) (domain.Media, error) {
	if err := s.UploadAllowed(c); err != nil {
		return domain.Media{}, err
	}
	num, err := s.connectedNumber(ctx, c.WorkspaceID, in.PhoneNumberID)
	if err != nil {
		return domain.Media{}, err
	}
	head := make([]byte, domain.SniffWindow)
	n, err := io.ReadFull(in.Body, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return domain.Media{}, fmt.Errorf("%w: %w", ErrBodyRead, err)
	}
	head = head[:n]
	if n == 0 {
		return domain.Media{}, fileError("is empty")
	}
	filename := domain.SanitizeFilename(in.Filename)
	mimeType := domain.SniffMedia(head, in.Filename)
	if mimeType == "" {
		return domain.Media{}, fileError("is not a type WhatsApp takes (judged from its content): JPEG or PNG images, WebP stickers, AAC, AMR, MP3, MP4 or Ogg Opus audio, MP4 or 3GPP video, PDF, Office or plain-text documents")
	}
	limit, _ := domain.MediaLimit(mimeType)
	body := &capped{r: io.MultiReader(bytes.NewReader(head), in.Body), limit: limit, mimeType: mimeType}
	token, err := s.token(ctx, num)
	if err != nil {
		return domain.Media{}, err
	}
	now := s.now().UTC()
	m := domain.Media{ID: domain.NewID(), WorkspaceID: c.WorkspaceID, PhoneNumberID: num.PhoneNumberID,
		Source: domain.MediaUploaded, MimeType: mimeType, Filename: filename, Status: domain.MediaStored,
		CreatedAt: now, UpdatedAt: now}
	m.StorageKey = domain.MediaKey(m.WorkspaceID, m.ID)
	w, err := s.store.NewWriter(ctx, m.StorageKey, mimeType)
	if err != nil {
		return domain.Media{}, fmt.Errorf("media store: %w", err)
	}
	sum := sha256.New()
	pr, pw := io.Pipe()
	type upload struct {
		id  string
		err error
	}
	uploaded := make(chan upload, 1)
	go func() {
		id, err := s.graph.UploadMedia(ctx, string(token), num.PhoneNumberID, mimeType, orDefault(filename, "file"), pr)
		// Whatever Meta did not read is refused from now on: the copy below stops.
		pr.CloseWithError(errUploadEnded)
		uploaded <- upload{id, err}
	}()
	size, copyErr := io.Copy(io.MultiWriter(w, sum, pw), body)
	pw.CloseWithError(copyErr) // nil: the end of the file
	up := <-uploaded
	var tooLarge *TooLargeError
	switch {
	case errors.As(copyErr, &tooLarge):
		w.Abort()
		return domain.Media{}, copyErr
	case body.err != nil:
		w.Abort()
		return domain.Media{}, fmt.Errorf("%w: %w", ErrBodyRead, body.err)
	case up.err != nil:
		w.Abort()
		return domain.Media{}, metaRefusal(up.err)
	case copyErr != nil:
		w.Abort()
		return domain.Media{}, fmt.Errorf("media store: %w", copyErr)
	}
	if err := w.Close(); err != nil {
		return domain.Media{}, fmt.Errorf("media store: %w", err)
	}
	m.Size, m.SHA256, m.MetaMediaID = size, hex.EncodeToString(sum.Sum(nil)), up.id
	m.SendMediaID, m.SendPhoneNumberID, m.SendUploadedAt = up.id, num.PhoneNumberID, &now
	if err := s.repo.Insert(ctx, m); err != nil {
		s.remove(m.StorageKey)
		return domain.Media{}, err
	}
	return m, nil
}

var errUploadEnded = errors.New("media: Meta's upload ended")

func fileError(msg string) error {
	return &domain.Error{Kind: domain.KindValidation, Message: "the file cannot be sent on WhatsApp",
		Fields: []domain.FieldError{{Field: "file", Message: msg}}}
}

// metaRefusal turns Meta's refusal of an upload into the caller's error: Meta's own
// limits and checks of the file (131053, 100) are the file's fault, the rest is Meta not
// answering.
func metaRefusal(err error) error {
	var me *domain.MetaError
	if errors.As(err, &me) && (me.Class == domain.MetaFinal) {
		return fileError("was refused by WhatsApp: " + domain.TruncateRunes(me.Title, 200))
	}
	return &domain.Error{Kind: domain.KindUnavailable, Message: "WhatsApp did not take the upload; try again"}
}

// capped reads r up to limit bytes and fails with *TooLargeError on the byte after it,
// never reading further; err keeps r's own failure (the client's).
type capped struct {
	r        io.Reader
	limit    int64
	n        int64
	mimeType string
	err      error
}

func (c *capped) Read(p []byte) (int, error) {
	if c.n > c.limit {
		return 0, &TooLargeError{MimeType: c.mimeType, Limit: c.limit}
	}
	if room := c.limit + 1 - c.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.limit {
		return n - int(c.n-c.limit), &TooLargeError{MimeType: c.mimeType, Limit: c.limit}
	}
	if err != nil && !errors.Is(err, io.EOF) && c.err == nil {
		c.err = err
	}
	return n, err
}

// Open reads a stored file inside the caller's view: KindNotFound outside it (an agent and
// another agent's contact), KindInvalidState while it is pending or after it failed.
func (s *Service) Open(ctx context.Context, c domain.Caller, id domain.ID) (domain.Media, io.ReadCloser, error) {
	m, err := s.visible(ctx, c, id)
	if err != nil {
		return domain.Media{}, nil, err
	}
	if m.Status != domain.MediaStored {
		msg := "the media is " + string(m.Status)
		if m.FailureReason != "" {
			msg += ": " + m.FailureReason
		}
		return domain.Media{}, nil, domain.Errorf(domain.KindInvalidState, "%s", msg)
	}
	rc, err := s.store.Open(ctx, m.StorageKey)
	if err != nil {
		return domain.Media{}, nil, err
	}
	return m, rc, nil
}

// visible reads a media file if the caller may see it.
func (s *Service) visible(ctx context.Context, c domain.Caller, id domain.ID) (domain.Media, error) {
	if err := authz.Require(s.authz, c, access.MediaRead); err != nil {
		return domain.Media{}, err
	}
	m, err := s.repo.Get(ctx, c.WorkspaceID, id)
	if err != nil {
		return domain.Media{}, err
	}
	if m.Source == domain.MediaUploaded {
		if err := authz.Require(s.authz, c, access.MediaUpload); err != nil {
			return domain.Media{}, err
		}
		return m, nil
	}
	if v := contacts.ViewOf(c); v.AssignedTo != nil {
		if m.ContactID == nil {
			return domain.Media{}, domain.NotFound("media")
		}
		if _, err := s.contacts.Get(ctx, c.WorkspaceID, *m.ContactID, v, false); err != nil {
			if domain.IsKind(err, domain.KindNotFound) {
				return domain.Media{}, domain.NotFound("media")
			}
			return domain.Media{}, err
		}
	}
	return m, nil
}

// CheckSendable reports whether the caller may send the media file id as a message of
// type typ: it must be visible to them, stored, and of a kind that type carries. The
// refusal is a validation error on field.
func (s *Service) CheckSendable(ctx context.Context, c domain.Caller, id domain.ID, typ, field string) error {
	m, err := s.visible(ctx, c, id)
	var v domain.Validator
	switch {
	case domain.IsKind(err, domain.KindNotFound) || domain.IsKind(err, domain.KindForbidden):
		v.Add(field, "is not a media id of this workspace")
	case err != nil:
		return err
	case m.Status != domain.MediaStored:
		v.Add(field, "names media that is "+string(m.Status)+", not stored")
	case !domain.MediaFitsType(m.MimeType, typ):
		v.Add(field, "names a "+m.MimeType+" file, which cannot be sent as "+typ)
	}
	return v.Err()
}

// SendableID returns the Meta id to send the stored file id by from num (whose token is
// token): the one Meta gave when it was uploaded on that number within 30 days, else the
// file is uploaded again from the store (a file received from a customer, or an old one).
func (s *Service) SendableID(ctx context.Context, ws, id domain.ID, num domain.PhoneNumber, token string) (string, error) {
	m, err := s.repo.Get(ctx, ws, id)
	if err != nil {
		return "", err
	}
	if m.Status != domain.MediaStored {
		return "", domain.Errorf(domain.KindInvalidState, "the media is %s", m.Status)
	}
	now := s.now()
	if mid := m.SendableOn(num.PhoneNumberID, now); mid != "" {
		return mid, nil
	}
	rc, err := s.store.Open(ctx, m.StorageKey)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	mid, err := s.graph.UploadMedia(ctx, token, num.PhoneNumberID, m.MimeType, orDefault(m.Filename, "file"), rc)
	if err != nil {
		return "", err
	}
	if err := s.repo.SetSendable(ctx, ws, id, mid, num.PhoneNumberID, now.UTC()); err != nil {
		return "", err
	}
	return mid, nil
}

// Arrivals records the media of inbound messages in the processing transaction.
type Arrivals struct{ r TxRepos }

// InTx returns the inbound hook bound to a transaction's repositories.
func InTx(r TxRepos) *Arrivals { return &Arrivals{r: r} }

// inboundMedia is the part of Meta's media object a download needs.
type inboundMedia struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	Filename string `json:"filename"`
}

// Received gives each stored inbound media message a pending file and its download job.
func (a *Arrivals) Received(ctx context.Context, ms []domain.Message, now time.Time) error {
	for _, msg := range ms {
		if !domain.IsMediaType(msg.Type) {
			continue
		}
		var in inboundMedia
		if json.Unmarshal(msg.Content, &in) != nil || strings.TrimSpace(in.ID) == "" {
			continue
		}
		msgID, contactID := msg.ID, msg.ContactID
		m := domain.Media{ID: domain.NewID(), WorkspaceID: msg.WorkspaceID, PhoneNumberID: msg.PhoneNumberID,
			Source: domain.MediaInbound, MetaMediaID: domain.TruncateRunes(strings.TrimSpace(in.ID), 128),
			MimeType: domain.TruncateRunes(strings.TrimSpace(in.MimeType), 255), ExpectedSHA256: domain.TruncateRunes(in.SHA256, 128),
			Filename: domain.SanitizeFilename(in.Filename), Status: domain.MediaPending, MessageID: &msgID,
			ContactID: &contactID, CreatedAt: now, UpdatedAt: now}
		m.StorageKey = domain.MediaKey(m.WorkspaceID, m.ID)
		if err := a.r.Media.Insert(ctx, m); err != nil {
			return err
		}
		if err := a.r.Jobs.EnqueueMediaDownload(ctx, m.WorkspaceID, m.ID); err != nil {
			return err
		}
	}
	return nil
}

// Download fetches a pending inbound file from Meta into the store, checking Meta's
// sha256. A returned error is transient (the job retries it); lastAttempt turns it into a
// failure. What cannot succeed (Meta refused for good, the number is gone, the file is too
// large or its hash does not match) is recorded failed with the reason, and nil returned.
func (s *Service) Download(ctx context.Context, ws, id domain.ID, lastAttempt bool) error {
	m, err := s.repo.Get(ctx, ws, id)
	if domain.IsKind(err, domain.KindNotFound) {
		return nil // erased with its message or contact
	}
	if err != nil || m.Status != domain.MediaPending {
		return err
	}
	nums, err := s.numbers.List(ctx, ws)
	if err != nil {
		return err
	}
	var num domain.PhoneNumber
	for _, n := range nums {
		if n.PhoneNumberID == m.PhoneNumberID {
			num = n
		}
	}
	if num.ID.IsZero() {
		return s.fail(ctx, m, "the business number is no longer the workspace's")
	}
	token, err := s.token(ctx, num)
	if err != nil {
		return s.retryOrFail(ctx, m, err, lastAttempt)
	}
	info, err := s.graph.MediaInfo(ctx, string(token), m.MetaMediaID)
	if err != nil {
		return s.retryOrFail(ctx, m, err, lastAttempt)
	}
	mimeType := m.MimeType
	if mimeType == "" {
		mimeType = info.MimeType
	}
	limit, ok := domain.MediaLimit(mimeType)
	if !ok {
		limit = domain.MaxMediaBytes
	}
	if info.Size > limit {
		return s.fail(ctx, m, fmt.Sprintf("Meta reports %d bytes, over the %d allowed for %s", info.Size, limit, mimeType))
	}
	want := m.ExpectedSHA256
	if want == "" {
		want = info.SHA256
	}
	body, err := s.graph.DownloadMedia(ctx, string(token), info.URL)
	if err != nil {
		return s.retryOrFail(ctx, m, err, lastAttempt)
	}
	defer body.Close()
	w, err := s.store.NewWriter(ctx, m.StorageKey, mimeType)
	if err != nil {
		return s.retryOrFail(ctx, m, fmt.Errorf("media store: %w", err), lastAttempt)
	}
	sum := sha256.New()
	size, err := io.Copy(io.MultiWriter(w, sum), &capped{r: body, limit: limit, mimeType: mimeType})
	var tooLarge *TooLargeError
	switch {
	case errors.As(err, &tooLarge):
		w.Abort()
		return s.fail(ctx, m, "the file is larger than the "+fmt.Sprint(limit)+" bytes allowed for "+mimeType)
	case err != nil:
		w.Abort()
		return s.retryOrFail(ctx, m, fmt.Errorf("download: %w", err), lastAttempt)
	}
	got := hex.EncodeToString(sum.Sum(nil))
	if want != "" && !sameSHA256(want, sum) {
		w.Abort()
		s.remove(m.StorageKey)
		return s.fail(ctx, m, "sha256 mismatch: Meta announced "+domain.TruncateRunes(want, 88)+", the downloaded bytes hash to "+got)
	}
	if err := w.Close(); err != nil {
		return s.retryOrFail(ctx, m, fmt.Errorf("media store: %w", err), lastAttempt)
	}
	return s.repo.MarkStored(ctx, ws, id, size, got, mimeType, s.now().UTC())
}

// sameSHA256 compares Meta's digest, which it writes in hex or in base64, with sum.
func sameSHA256(want string, sum hash.Hash) bool {
	d := sum.Sum(nil)
	want = strings.TrimSpace(want)
	if b, err := hex.DecodeString(want); err == nil && len(b) == len(d) {
		return bytes.Equal(b, d)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(want); err == nil && len(b) == len(d) {
			return bytes.Equal(b, d)
		}
	}
	return false
}

// retryOrFail returns a transient error for the job to retry, or records the failure:
// Meta's final refusals at once, anything else on the last attempt.
func (s *Service) retryOrFail(ctx context.Context, m domain.Media, err error, lastAttempt bool) error {
	var me *domain.MetaError
	final := errors.As(err, &me) && (me.Class == domain.MetaFinal || me.Class == domain.MetaAuth || me.Class == domain.MetaStop)
	if !final && !lastAttempt {
		return err
	}
	return s.fail(ctx, m, domain.TruncateRunes(err.Error(), 300))
}

func (s *Service) fail(ctx context.Context, m domain.Media, reason string) error {
	s.log.WarnContext(ctx, "media download failed", "media_id", m.ID, "workspace_id", m.WorkspaceID, "reason", reason)
	return s.repo.MarkFailed(ctx, m.WorkspaceID, m.ID, reason, s.now().UTC())
}

// remove deletes an object that must not stay, on a context of its own: the request's may
// be what failed.
func (s *Service) remove(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.store.Delete(ctx, key); err != nil {
		s.log.Warn("media: could not remove an object", "key", key, "err", err)
	}
}

func (s *Service) token(ctx context.Context, num domain.PhoneNumber) ([]byte, error) {
	t, err := s.vault.Open(ctx, num.Token, domain.SecretBinding{WorkspaceID: num.WorkspaceID,
		Purpose: domain.PurposeAccessToken, PhoneNumberID: num.PhoneNumberID})
	if err != nil {
		return nil, fmt.Errorf("open token: %w", err)
	}
	return t, nil
}

// connectedNumber is the given number, which must be the workspace's and connected, or
// the workspace's first connected one (messaging.ConnectedNumber, as a send picks it).
func (s *Service) connectedNumber(ctx context.Context, ws domain.ID, phoneNumberID string) (domain.PhoneNumber, error) {
	nums, err := s.numbers.List(ctx, ws)
	if err != nil {
		return domain.PhoneNumber{}, err
	}
	return messaging.ConnectedNumber(nums, phoneNumberID)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
