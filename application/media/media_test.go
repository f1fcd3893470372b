package media_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wabaplatform/waba/application/authz/authztest"
	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/application/media"
	"github.com/wabaplatform/waba/domain"
	"github.com/wabaplatform/waba/domain/access"
)

// memStore is a media.Store in memory that records aborted writes.
type memStore struct {
	mu      sync.Mutex
	objects map[string][]byte
	aborted int
}

type memWriter struct {
	s   *memStore
	key string
	buf bytes.Buffer
}

func (w *memWriter) Write(p []byte) (int, error) { return w.buf.Write(p) }
func (w *memWriter) Close() error {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.s.objects[w.key] = bytes.Clone(w.buf.Bytes())
	return nil
}
func (w *memWriter) Abort() { w.s.mu.Lock(); w.s.aborted++; w.s.mu.Unlock() }

func (s *memStore) NewWriter(_ context.Context, key, _ string) (media.Writer, error) {
	return &memWriter{s: s, key: key}, nil
}
func (s *memStore) Open(_ context.Context, key string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objects[key]
	if !ok {
		return nil, domain.NotFound("media file")
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}
func (s *memStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objects, key)
	return nil
}

// memRepo is a media.Repo in memory.
type memRepo struct {
	mu   sync.Mutex
	rows map[domain.ID]domain.Media
}

func (r *memRepo) Insert(_ context.Context, m domain.Media) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows[m.ID] = m
	return nil
}
func (r *memRepo) Get(_ context.Context, ws, id domain.ID) (domain.Media, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.rows[id]
	if !ok || m.WorkspaceID != ws {
		return domain.Media{}, domain.NotFound("media")
	}
	return m, nil
}
func (r *memRepo) MarkStored(_ context.Context, ws, id domain.ID, size int64, sum, mime string, at time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.rows[id]
	if m.Status != domain.MediaPending {
		return nil
	}
	m.Status, m.Size, m.SHA256, m.MimeType, m.UpdatedAt = domain.MediaStored, size, sum, mime, at
	r.rows[id] = m
	return nil
}
func (r *memRepo) MarkFailed(_ context.Context, ws, id domain.ID, reason string, at time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.rows[id]
	if m.Status == domain.MediaPending {
		m.Status, m.FailureReason = domain.MediaFailed, reason
		r.rows[id] = m
	}
	return nil
}
func (r *memRepo) SetSendable(_ context.Context, ws, id domain.ID, mid, pn string, at time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.rows[id]
	m.SendMediaID, m.SendPhoneNumberID, m.SendUploadedAt = mid, pn, &at
	r.rows[id] = m
	return nil
}

// fakeGraph is Meta: uploads are read whole (or refused), downloads serve files.
type fakeGraph struct {
	mu        sync.Mutex
	uploads   map[string][]byte
	refuse    error
	files     map[string][]byte
	reportSHA map[string]string
	failGet   error
}

func (g *fakeGraph) UploadMedia(_ context.Context, _, _, _, _ string, r io.Reader) (string, error) {
	if g.refuse != nil {
		return "", g.refuse
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	id := "9" + strings.Repeat("1", len(g.uploads)+1)
	g.uploads[id] = b
	return id, nil
}
func (g *fakeGraph) MediaInfo(_ context.Context, _, id string) (media.MetaMedia, error) {
	if g.failGet != nil {
		return media.MetaMedia{}, g.failGet
	}
	b := g.files[id]
	return media.MetaMedia{URL: "https://lookaside.example/" + id, SHA256: g.reportSHA[id], Size: int64(len(b))}, nil
}
func (g *fakeGraph) DownloadMedia(_ context.Context, _, url string) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(g.files[strings.TrimPrefix(url, "https://lookaside.example/")])), nil
}

type fakeNumbers []domain.PhoneNumber

func (n fakeNumbers) List(context.Context, domain.ID) ([]domain.PhoneNumber, error) { return n, nil }

type fakeVault struct{}

func (fakeVault) Open(context.Context, domain.Sealed, domain.SecretBinding) ([]byte, error) {
	return []byte("token"), nil
}

// fakeContacts: an agent sees only the contacts in assigned.
type fakeContacts struct{ assigned map[domain.ID]domain.ID }

func (f fakeContacts) Get(_ context.Context, _, id domain.ID, v contacts.View, _ bool) (domain.Contact, error) {
	if v.AssignedTo != nil && f.assigned[id] != *v.AssignedTo {
		return domain.Contact{}, domain.NotFound("contact")
	}
	return domain.Contact{ID: id}, nil
}

type testBundle struct {
	svc   *media.Service
	store *memStore
	repo  *memRepo
	graph *fakeGraph
	ws    domain.ID
	owner domain.Caller
	agent domain.Caller
	num   domain.PhoneNumber
	cts   fakeContacts
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ws := domain.NewID()
	b := &testBundle{store: &memStore{objects: map[string][]byte{}}, repo: &memRepo{rows: map[domain.ID]domain.Media{}},
		graph: &fakeGraph{uploads: map[string][]byte{}, files: map[string][]byte{}, reportSHA: map[string]string{}}, ws: ws,
		cts: fakeContacts{assigned: map[domain.ID]domain.ID{}}}
	b.num = domain.PhoneNumber{ID: domain.NewID(), WorkspaceID: ws, PhoneNumberID: "1065", Status: domain.NumberConnected}
	grants := authztest.Grants{
		access.Owner: {access.MediaRead, access.MediaUpload},
		access.Agent: {access.MediaRead, access.MediaUpload},
	}
	b.svc = media.NewService(media.Deps{Repo: b.repo, Store: b.store, Graph: b.graph, Numbers: fakeNumbers{b.num},
		Vault: fakeVault{}, Contacts: b.cts, Authz: grants})
	b.owner = domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: ws, Role: access.Owner}
	b.agent = domain.Caller{Type: domain.ActorUser, ID: domain.NewID(), WorkspaceID: ws, Role: access.Agent}
	return b
}

// countingReader counts what was read of it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestUpload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	jpeg := append([]byte("\xFF\xD8\xFF\xE0"), bytes.Repeat([]byte{1}, 10_000)...)

	t.Run("StoredAndOnMetaWithTheSameBytes", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		m, err := b.svc.Upload(ctx, b.agent, media.UploadInput{Filename: "../x/photo.jpg", Body: bytes.NewReader(jpeg)})
		require.NoError(t, err)
		sum := sha256.Sum256(jpeg)
		require.Equal(t, hex.EncodeToString(sum[:]), m.SHA256)
		require.Equal(t, "image/jpeg", m.MimeType)
		require.EqualValues(t, len(jpeg), m.Size)
		require.Equal(t, "photo.jpg", m.Filename)
		require.Equal(t, domain.MediaKey(b.ws, m.ID), m.StorageKey)
		require.Equal(t, jpeg, b.store.objects[m.StorageKey])
		require.Equal(t, jpeg, b.graph.uploads[m.MetaMediaID])
		require.Equal(t, m.MetaMediaID, m.SendableOn("1065", time.Now()))
	})

	t.Run("OverTheLimitReadsNoFurtherThanOneByte", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		body := &countingReader{r: io.MultiReader(bytes.NewReader(jpeg[:4]), zeros{})}
		_, err := b.svc.Upload(ctx, b.owner, media.UploadInput{Filename: "big.jpg", Body: body})
		var tooLarge *media.TooLargeError
		require.ErrorAs(t, err, &tooLarge)
		require.EqualValues(t, 5<<20, tooLarge.Limit)
		require.LessOrEqual(t, body.n, int64(5<<20+1), "read past the limit")
		require.Empty(t, b.store.objects)
		require.Equal(t, 1, b.store.aborted)
		require.Empty(t, b.repo.rows)
	})

	t.Run("StickerLimit", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		webp := append([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "), make([]byte, 500<<10)...)
		_, err := b.svc.Upload(ctx, b.owner, media.UploadInput{Body: bytes.NewReader(webp)})
		var tooLarge *media.TooLargeError
		require.ErrorAs(t, err, &tooLarge)
		_, err = b.svc.Upload(ctx, b.owner, media.UploadInput{Body: bytes.NewReader(webp[:400<<10])})
		require.NoError(t, err)
	})

	t.Run("SpoofedTypesAreRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for name, body := range map[string]string{"a.jpg": "#!/bin/sh\necho", "b.jpg": "<html><script>", "c.png": "plain"} {
			_, err := b.svc.Upload(ctx, b.owner, media.UploadInput{Filename: name, Body: strings.NewReader(body)})
			require.True(t, domain.IsKind(err, domain.KindValidation), "%s: %v", name, err)
		}
		require.Empty(t, b.graph.uploads)
	})

	t.Run("MetaRefusalKeepsNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.graph.refuse = &domain.MetaError{Class: domain.MetaFinal, Code: 131053, Title: "Media upload error"}
		_, err := b.svc.Upload(ctx, b.owner, media.UploadInput{Body: bytes.NewReader(jpeg)})
		require.True(t, domain.IsKind(err, domain.KindValidation), "%v", err)
		require.Empty(t, b.store.objects)
		require.Empty(t, b.repo.rows)
	})

	t.Run("ClientBreaksOff", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		broken := io.MultiReader(bytes.NewReader(jpeg), &failing{})
		_, err := b.svc.Upload(ctx, b.owner, media.UploadInput{Body: broken})
		require.ErrorIs(t, err, media.ErrBodyRead)
		require.Empty(t, b.store.objects)
	})
}

type failing struct{}

func (*failing) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// inbound stores a pending inbound file as the processing transaction does.
func (b *testBundle) inbound(t *testing.T, contact domain.ID, metaID, sha string) domain.Media {
	t.Helper()
	var jobs recordJobs
	msg := domain.Message{ID: domain.NewID(), WorkspaceID: b.ws, ContactID: contact, PhoneNumberID: "1065", Type: "image",
		Content: []byte(`{"id":"` + metaID + `","mime_type":"image/jpeg","sha256":"` + sha + `"}`)}
	require.NoError(t, media.InTx(media.TxRepos{Media: b.repo, Jobs: &jobs}).Received(context.Background(), []domain.Message{msg}, time.Now()))
	require.Len(t, jobs, 1)
	m, err := b.repo.Get(context.Background(), b.ws, jobs[0])
	require.NoError(t, err)
	require.Equal(t, domain.MediaPending, m.Status)
	return m
}

type recordJobs []domain.ID

func (j *recordJobs) EnqueueMediaDownload(_ context.Context, _, id domain.ID) error {
	*j = append(*j, id)
	return nil
}

func TestDownload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	data := []byte("\xFF\xD8\xFF a customer's photo")
	sum := sha256.Sum256(data)

	t.Run("StoredWhenTheHashMatchesInHexOrBase64", func(t *testing.T) {
		t.Parallel()
		for _, sha := range []string{hex.EncodeToString(sum[:]), base64.StdEncoding.EncodeToString(sum[:])} {
			b := setup(t)
			b.graph.files["77"] = data
			m := b.inbound(t, domain.NewID(), "77", sha)
			require.NoError(t, b.svc.Download(ctx, b.ws, m.ID, false))
			got, _ := b.repo.Get(ctx, b.ws, m.ID)
			require.Equal(t, domain.MediaStored, got.Status)
			require.Equal(t, hex.EncodeToString(sum[:]), got.SHA256)
			require.Equal(t, data, b.store.objects[m.StorageKey])
		}
	})

	t.Run("MismatchFailsAndKeepsNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.graph.files["77"] = data
		m := b.inbound(t, domain.NewID(), "77", strings.Repeat("ab", 32))
		require.NoError(t, b.svc.Download(ctx, b.ws, m.ID, false))
		got, _ := b.repo.Get(ctx, b.ws, m.ID)
		require.Equal(t, domain.MediaFailed, got.Status)
		require.Contains(t, got.FailureReason, "sha256 mismatch")
		require.Empty(t, b.store.objects)
	})

	t.Run("TransientErrorsRetryThenFail", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.graph.failGet = &domain.MetaError{Class: domain.MetaRetry, Title: "Service unavailable"}
		m := b.inbound(t, domain.NewID(), "77", "")
		require.Error(t, b.svc.Download(ctx, b.ws, m.ID, false), "a transient error is the job's to retry")
		got, _ := b.repo.Get(ctx, b.ws, m.ID)
		require.Equal(t, domain.MediaPending, got.Status)
		require.NoError(t, b.svc.Download(ctx, b.ws, m.ID, true))
		got, _ = b.repo.Get(ctx, b.ws, m.ID)
		require.Equal(t, domain.MediaFailed, got.Status)
	})

	t.Run("FinalErrorsFailAtOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.graph.failGet = &domain.MetaError{Class: domain.MetaFinal, Code: 100, Title: "Invalid parameter"}
		m := b.inbound(t, domain.NewID(), "77", "")
		require.NoError(t, b.svc.Download(ctx, b.ws, m.ID, false))
		got, _ := b.repo.Get(ctx, b.ws, m.ID)
		require.Equal(t, domain.MediaFailed, got.Status)
		require.Contains(t, got.FailureReason, "Invalid parameter")
	})
}

func TestVisibilityAndSending(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	data := []byte("\xFF\xD8\xFF photo")
	b.graph.files["77"] = data
	mine, theirs := domain.NewID(), domain.NewID()
	b.cts.assigned[mine] = b.agent.ID
	b.cts.assigned[theirs] = domain.NewID()
	m1 := b.inbound(t, mine, "77", "")
	m2 := b.inbound(t, theirs, "77", "")
	for _, m := range []domain.Media{m1, m2} {
		require.NoError(t, b.svc.Download(ctx, b.ws, m.ID, false))
	}

	_, rc, err := b.svc.Open(ctx, b.agent, m1.ID)
	require.NoError(t, err)
	got, _ := io.ReadAll(rc)
	require.Equal(t, data, got)
	_, _, err = b.svc.Open(ctx, b.agent, m2.ID)
	require.True(t, domain.IsKind(err, domain.KindNotFound), "another agent's contact: %v", err)
	require.Error(t, b.svc.CheckSendable(ctx, b.agent, m2.ID, "image", "image.media_id"))
	require.NoError(t, b.svc.CheckSendable(ctx, b.agent, m1.ID, "image", "image.media_id"))
	require.Error(t, b.svc.CheckSendable(ctx, b.agent, m1.ID, "audio", "audio.media_id"), "a photo is no audio")

	// A received file has no Meta id to send by: it is uploaded once, then reused.
	id, err := b.svc.SendableID(ctx, b.ws, m1.ID, b.num, "token")
	require.NoError(t, err)
	require.Equal(t, data, b.graph.uploads[id])
	again, err := b.svc.SendableID(ctx, b.ws, m1.ID, b.num, "token")
	require.NoError(t, err)
	require.Equal(t, id, again)
	require.Len(t, b.graph.uploads, 1)
}
