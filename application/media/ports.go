package media

import (
	"context"
	"io"
	"time"

	"github.com/wabaplatform/waba/application/contacts"
	"github.com/wabaplatform/waba/domain"
)

// Store keeps the bytes of media files (a gocloud.dev/blob bucket behind it).
type Store interface {
	// NewWriter starts writing the object key. Nothing is visible under key until the
	// writer's Close succeeds; Abort discards what was written.
	NewWriter(ctx context.Context, key, contentType string) (Writer, error)
	// Open reads the object key; KindNotFound when there is none.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Delete removes the object key (nothing when there is none).
	Delete(ctx context.Context, key string) error
}

// Writer is an object being written.
type Writer interface {
	io.Writer
	// Close commits the object.
	Close() error
	// Abort discards the object (safe after Close, then it does nothing).
	Abort()
}

// Repo keeps the media rows.
type Repo interface {
	Insert(ctx context.Context, m domain.Media) error
	// Get reads one media file of a workspace; KindNotFound when there is none.
	Get(ctx context.Context, workspaceID, id domain.ID) (domain.Media, error)
	// MarkStored records a pending file stored (its size, hex sha256 and type); a file no
	// longer pending is left as it is.
	MarkStored(ctx context.Context, workspaceID, id domain.ID, size int64, sha256, mimeType string, at time.Time) error
	// MarkFailed records a pending file failed, with the reason.
	MarkFailed(ctx context.Context, workspaceID, id domain.ID, reason string, at time.Time) error
	// SetSendable records the Meta id to send the file by from phoneNumberID.
	SetSendable(ctx context.Context, workspaceID, id domain.ID, mediaID, phoneNumberID string, at time.Time) error
}

// MetaMedia is what Meta says of a media id (GET /{media-id}).
type MetaMedia struct {
	URL      string // valid about five minutes; fetched with the number's token
	MimeType string
	SHA256   string
	Size     int64
}

// Graph is Meta's media endpoints. Failures are *domain.MetaError.
type Graph interface {
	// UploadMedia streams r to Meta as a file of mimeType and returns its media id.
	UploadMedia(ctx context.Context, token, phoneNumberID, mimeType, filename string, r io.Reader) (string, error)
	// MediaInfo reads a media id's short-lived URL and metadata.
	MediaInfo(ctx context.Context, token, mediaID string) (MetaMedia, error)
	// DownloadMedia fetches a URL from MediaInfo; the caller closes the body.
	DownloadMedia(ctx context.Context, token, url string) (io.ReadCloser, error)
}

// Numbers lists a workspace's WhatsApp numbers (with their sealed tokens).
type Numbers interface {
	List(ctx context.Context, workspaceID domain.ID) ([]domain.PhoneNumber, error)
}

// Vault opens sealed access tokens.
type Vault interface {
	Open(ctx context.Context, s domain.Sealed, b domain.SecretBinding) ([]byte, error)
}

// Contacts tells whether a contact is inside a caller's view.
type Contacts interface {
	Get(ctx context.Context, workspaceID, id domain.ID, view contacts.View, forUpdate bool) (domain.Contact, error)
}

// Jobs enqueues a download in the current transaction.
type Jobs interface {
	EnqueueMediaDownload(ctx context.Context, workspaceID, mediaID domain.ID) error
}

// TxRepos is what the inbound processing transaction offers media.
type TxRepos struct {
	Media Repo
	Jobs  Jobs
}
